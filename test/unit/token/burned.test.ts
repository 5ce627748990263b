import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadBurnedTokens } from '../../../src/token/burned.js';

const dir = mkdtempSync(join(tmpdir(), 'burned-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const NOW = Date.parse('2026-12-01T00:00:00Z');

describe('burned tokens', () => {
  it('survives a restart, 0600', async () => {
    const path = join(dir, 'a', 'burned-tokens.json');
    const burned = await loadBurnedTokens(path, NOW);
    await burned.add('0123456789ab', NOW);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect((await loadBurnedTokens(path, NOW)).has('0123456789ab')).toBe(true);
  });

  it('writes a fingerprint whose first write failed at the next add of it', async () => {
    const path = join(dir, 'b', 'burned-tokens.json');
    const burned = await loadBurnedTokens(path, NOW);
    await burned.add('aaaaaaaaaaaa', NOW);
    // A directory in the file's place: the rename onto it fails, as on a read-only or full file system.
    rmSync(path);
    mkdirSync(join(path, 'in-the-way'), { recursive: true });
    await expect(burned.add('bbbbbbbbbbbb', NOW)).rejects.toThrow();
    rmSync(path, { recursive: true });
    await burned.add('bbbbbbbbbbbb', NOW);
    expect(readFileSync(path, 'utf8')).toContain('bbbbbbbbbbbb');
  });
});
