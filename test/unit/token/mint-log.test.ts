// The mint times that make token.max_per_hour hold across a restart.
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadMintLog } from '../../../src/token/mint-log.js';

const T0 = Date.parse('2030-01-01T00:00:00Z');
const KEYS = ['upstream-agent', 'downstream-agent'] as const;
let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pb-mint-log-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

describe('loadMintLog', () => {
  it('gives a restarted daemon the last hour of mint times, 0600, dropping older ones', async () => {
    const path = join(dir, 'state', 'token-mints.json');
    const first = await loadMintLog(path, KEYS, T0);
    expect(first.loaded).toEqual({ 'upstream-agent': [], 'downstream-agent': [] });
    await first.save({ 'upstream-agent': [T0 - 3_700_000, T0 - 60_000, T0], 'downstream-agent': [T0] });
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    const again = await loadMintLog(path, KEYS, T0 + 1_000);
    expect(again.loaded).toEqual({ 'upstream-agent': [T0 - 60_000, T0], 'downstream-agent': [T0] });
  });

  it('starts empty on a file it cannot read, and says so', async () => {
    const path = join(dir, 'token-mints.json');
    await writeFile(path, 'not json', { mode: 0o600 });
    const problems: string[] = [];
    const log = await loadMintLog(path, KEYS, T0, (m) => problems.push(m));
    expect(log.loaded['upstream-agent']).toEqual([]);
    expect(problems).toEqual([`cannot read ${path} (not JSON); starting empty`]);
    expect(await readFile(path, 'utf8')).toBe('not json');
  });
});
