import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// `npm run bench:fleet -- --smoke` as CI runs it: a small fleet, a short outage. Nothing about time is asserted
// (the machine is shared); only that the run completes, every poller enrols once, the requests were counted (they
// are heard on node:http's diagnostics channels, which a change of HTTP client would silence), and the report and
// plot exist.
const MAIN = fileURLToPath(new URL('../../dist/scripts/bench/fleet/main.js', import.meta.url)).replace(
  /\/dist\/dist\//,
  '/dist/',
);

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bench-fleet-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('bench:fleet --smoke', () => {
  it('enrols every poller once through the throttled simulator and writes the report and the plot', async () => {
    const svg = join(dir, 'fleet.svg');
    const json = join(dir, 'fleet.json');
    const { stdout } = await promisify(execFile)(process.execPath, [
      MAIN,
      '--smoke',
      '--svg',
      svg,
      '--json',
      json,
    ]);
    expect(stdout).toContain('time until all hold a token ÷ (N/R)');
    expect(stdout).toContain('requests sent ÷ N');
    expect(stdout).toContain('pollers that got two tokens');
    const report = JSON.parse(await readFile(json, 'utf8')) as {
      runs: {
        withoutToken: number;
        received: number;
        minted: number;
        twoTokens: number;
        requests: { total: number; joinTokens: number; login: number };
        setup: { pollers: number };
      }[];
    };
    const [run] = report.runs;
    expect(run).toMatchObject({ withoutToken: 0, twoTokens: 0 });
    expect(run?.received).toBe(run?.setup.pollers);
    expect(run?.minted).toBe(run?.setup.pollers);
    // Every poller asked at least once, and logged in at least once: a count of 0 means the recorder went deaf.
    const pollers = run?.setup.pollers ?? Number.NaN;
    expect(run?.requests.total).toBeGreaterThan(0);
    expect(run?.requests.total).toBeGreaterThanOrEqual(pollers);
    expect(run?.requests.joinTokens).toBeGreaterThanOrEqual(pollers);
    expect(run?.requests.login).toBeGreaterThanOrEqual(pollers);
    expect(await readFile(svg, 'utf8')).toMatch(/^<svg [^>]*>[\s\S]*<\/svg>\n$/);
  });
});
