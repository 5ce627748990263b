import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/config/errors.js';
import { configJsonSchema } from '../../../src/config/json-schema.js';
import { parseConfig } from '../../../src/config/load.js';

const read = (rel: string) =>
  JSON.parse(readFileSync(new URL(`../../../${rel}`, import.meta.url), 'utf8')) as unknown;
const published = read('packaging/poller-bootstrap.schema.json') as Record<string, unknown>;
const ajv = new Ajv2020({ allErrors: true, strict: false });
const validate = ajv.compile(published);

type Node = { type?: string; properties?: Record<string, Node>; items?: Node; default?: unknown };

/** Every key path the schema describes, with a value it says is valid (its default, or one of its type). */
function leaves(node: Node, at: string[] = []): [string[], unknown][] {
  if (node.type === 'object' && node.properties) {
    return Object.entries(node.properties).flatMap(([k, child]) => leaves(child, [...at, k]));
  }
  return [[at, node.default]];
}

function nest(path: string[], value: unknown): Record<string, unknown> {
  const [head, ...rest] = path;
  return { [head as string]: rest.length === 0 ? value : nest(rest, value) };
}

/** The loader's problems with the key at `key` (others, such as required siblings, are not this test's). */
const issuesAt = (raw: unknown, key: string): string[] => {
  try {
    parseConfig(raw);
    return [];
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return err.issues.filter((i) => i.key === key).map((i) => i.message);
  }
};

const unknownKeys = (raw: unknown): string[] => {
  try {
    parseConfig(raw);
    return [];
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return err.issues.filter((i) => i.message.endsWith(': unknown key')).map((i) => i.key);
  }
};

describe('the published JSON Schema', () => {
  it('is what `npm run schema` writes from the loader now (run it after changing src/config/schema.ts)', () => {
    expect(published).toEqual(JSON.parse(JSON.stringify(configJsonSchema())));
  });

  it('accepts the example configs', () => {
    for (const example of ['packaging/examples/poller-bootstrap.json']) {
      expect(validate(read(example)), JSON.stringify(validate.errors)).toBe(true);
    }
  });

  it('rejects an unknown key and a value of the wrong type, as the loader does', () => {
    const base = { trust_domain: 'example.org', upstream: { server_address: 'spire' } };
    expect(validate({ ...base, upstream: { ...base.upstream, sever_port: 1 } })).toBe(false);
    expect(validate({ ...base, token: { max_per_hour: 'six' } })).toBe(false);
    expect(unknownKeys({ ...base, upstream: { ...base.upstream, sever_port: 1 } })).toEqual([
      'upstream.sever_port',
    ]);
  });

  it('names exactly the keys the loader accepts, at every depth', () => {
    const paths = leaves(published as Node);
    expect(paths.length).toBeGreaterThan(40);
    for (const [path] of paths) expect(unknownKeys(nest(path, null)), path.join('.')).toEqual([]);
    for (const [path] of paths.filter(([p]) => p.length > 1)) {
      const sibling = [...path.slice(0, -1), `${path.at(-1)}_typo`];
      expect(unknownKeys(nest(sibling, null))).toEqual([sibling.join('.')]);
    }
  });

  it('gives a default the loader accepts wherever it names one', () => {
    for (const [path, value] of leaves(published as Node).filter(([, v]) => v !== undefined)) {
      expect(issuesAt(nest(path, value), path.join('.')), path.join('.')).toEqual([]);
    }
  });
});
