import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/config/errors.js';
import { parseConfig } from '../../../src/config/load.js';
import { binaryVersion, resolveSpireVersion } from '../../../src/spire/binary-version.js';
import { formatSpireVersion } from '../../../src/spire/version.js';
import { SIM_BIN } from '../../sim/launch.js';

const base = { trust_domain: 'example.org', upstream: { server_address: 'spire', insecure_bootstrap: true } };

describe('the SPIRE binaries’ own version', () => {
  it('is what `spire-agent -version` prints', async () => {
    expect(formatSpireVersion(await binaryVersion(join(SIM_BIN, 'spire-agent')))).toBe('1.13.3');
  });

  it('fills in spire.version "auto", and names the key when the binary cannot say', async () => {
    const auto = parseConfig({
      ...base,
      spire: { version: 'auto', agent_path: join(SIM_BIN, 'spire-agent') },
    });
    expect(formatSpireVersion((await resolveSpireVersion(auto)).spire.version)).toBe('1.13.3');
    const missing = parseConfig({
      ...base,
      spire: { version: 'auto', agent_path: '/nonexistent/spire-agent' },
    });
    const err = await resolveSpireVersion(missing).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).issues[0]?.message).toBe(
      'spire.version: "auto" needs the agent\'s version, but /nonexistent/spire-agent -version: ENOENT',
    );
  });
});
