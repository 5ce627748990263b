// Property: whatever JSON and environment it is given, the loader answers with a config or a ConfigError that
// names keys — never another exception (a TypeError from an unexpected shape would be a crash at start).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ENV_OVERRIDES, LEGACY_ENV_OVERRIDES } from '../../../src/config/env.js';
import { ConfigError } from '../../../src/config/errors.js';
import { configJsonSchema } from '../../../src/config/json-schema.js';
import { parseConfig, parseConfigText } from '../../../src/config/load.js';

type Node = { properties?: Record<string, Node>; items?: Node };
const keysOf = (node: Node): string[] => Object.keys(node.properties ?? {});
const schema = configJsonSchema() as Node;

// Values of every JSON shape, biased towards the keys the loader knows so that deep paths are reached.
const value = fc.letrec<{ v: unknown }>((tie) => ({
  v: fc.oneof(
    { depthSize: 'small' },
    fc.constantFrom(null, true, false, 0, -1, 1.5, 65_536, '', 'x', '/abs', 'spiffe://td/x', '${x}', '\n'),
    fc.string(),
    fc.integer(),
    fc.array(tie('v'), { maxLength: 3 }),
    fc.dictionary(
      fc.oneof(fc.constantFrom(...keysOf(schema), 'socket_path', 'selectors'), fc.string()),
      tie('v'),
      {
        maxKeys: 4,
      },
    ),
  ),
})).v;

const envName = fc.constantFrom(
  ...[...ENV_OVERRIDES, ...LEGACY_ENV_OVERRIDES].map(([n]) => n),
  'SPIRE_SERVER_ADDR',
);
const env = fc.dictionary(
  envName,
  fc.oneof(fc.string(), fc.constantFrom('1', 'true', 'a,b', 'host:80', '[::1]:9')),
);

const onlyConfigErrors = (run: () => unknown) => {
  try {
    run();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    expect(err.issues.length).toBeGreaterThan(0);
  }
};

describe('the config loader', () => {
  it('throws nothing but ConfigError for any JSON value and environment', () => {
    fc.assert(
      fc.property(value, env, (raw, e) => onlyConfigErrors(() => parseConfig(raw, e))),
      { numRuns: 400 },
    );
  });

  it('throws nothing but ConfigError for any text', () => {
    fc.assert(fc.property(fc.string(), env, (text, e) => onlyConfigErrors(() => parseConfigText(text, e))));
  });
});
