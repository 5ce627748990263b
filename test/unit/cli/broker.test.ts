import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { apiKeyDigest, apiKeyMatches, verifyPassword } from '../../../src/broker/hash.js';
import { cli } from './harness.js';

describe('poller-bootstrap broker hash', () => {
  it('prints the stored form of a password read from standard input (one trailing newline dropped)', async () => {
    const { code, stdout, stderr } = await cli(['broker', 'hash'], { stdin: 'edge password\n' });
    expect([code, stderr]).toEqual([0, '']);
    expect(await verifyPassword('edge password', stdout.trim())).toBe(true);
    expect(stdout).not.toContain('edge password');
  });

  it('--api-key prints its SHA-256 form, and refuses a key too short to be random', async () => {
    // As docs/broker.md has the operator make one.
    const key = execFileSync('openssl', ['rand', '-hex', '32'], { encoding: 'utf8' });
    const ok = await cli(['broker', 'hash', '--api-key'], { stdin: key });
    expect(ok.code).toBe(0);
    expect(apiKeyMatches(apiKeyDigest(key.trim()), ok.stdout.trim())).toBe(true);
    const short = await cli(['broker', 'hash', '--api-key'], { stdin: 'letmein' });
    expect(short).toEqual({
      code: 64,
      stdout: '',
      stderr:
        'poller-bootstrap broker hash: the API key on standard input is 7 characters long; an API key needs at least 32 random characters (e.g. openssl rand -hex 32)\n',
    });
  });

  it('an empty standard input is a usage error, not an empty hash', async () => {
    expect((await cli(['broker', 'hash'], { stdin: '' })).code).toBe(64);
  });
});

describe('poller-bootstrap broker', () => {
  it('a config with problems exits 78 naming each key', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'broker-cli-'));
    const path = join(dir, 'broker.json');
    writeFileSync(path, JSON.stringify({ trust_domain: 'Example', policy: { templates: [] } }));
    const { code, stderr } = await cli(['broker', '--config', path]);
    expect(code).toBe(78);
    expect(stderr).toContain('trust_domain: expected a trust domain name');
    expect(stderr).toContain('policy.templates: expected a non-empty list, got []');
    expect(stderr).toContain('auth: expected users_file and/or api_keys_file');
  });

  it('--help says that rate limits are per replica', async () => {
    const { stdout } = await cli(['broker', '--help']);
    expect(stdout).toContain('several replicas, a caller may get that many tokens from each replica');
  });
});
