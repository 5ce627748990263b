// The fault matrix's shared steps (issue 8): reading and awaiting /status, injecting simulator faults, and the
// one check every case ends with — the outcome, no secret anywhere, the identity kept, the token budget, and no
// SPIRE child left running once the daemon is gone.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import type { Status } from '../../src/observability/status.js';
import type { Proc } from '../sim/launch.js';
import {
  ADMIN_PASSWORD,
  adminStats,
  type Env,
  leakScan,
  makeEnv,
  type SimOptions,
  startDaemon,
  waitReady,
} from './harness.js';
import { expectNoSecrets, usedToken, usedTokens } from './secrets.js';

/** GET /status as the daemon builds it (src/observability/status.ts), times as ISO strings. */
export type { Status };
export type ChildStatus = Status['children'][number];

export const stateDir = (env: Env) => env.config.state_dir as string;
export const runDir = (env: Env) => env.config.run_dir as string;
/** One section of a daemon config (`upstream`, `admin_api`, …), to read or change. */
export const section = (config: Record<string, unknown>, key: string) =>
  config[key] as Record<string, unknown>;

export async function status(env: Env): Promise<Status> {
  return (await (await fetch(`${env.httpUrl}/status`)).json()) as Status;
}

export const child = (s: Status, name: string): ChildStatus =>
  s.children.find((c) => c.name === name) ?? expect.unreachable(`no child ${name}`);

/** Milliseconds from the last failure to the pending retry, as /status reports both. */
export const waitedMs = (s: Status) => Date.parse(s.pending?.dueAt ?? '') - Date.parse(s.lastError?.at ?? '');

/** Polls `probe` every 50 ms until `ok` holds; fails naming `what` and the last value after `timeoutMs`. */
export async function until<T>(
  probe: () => Promise<T>,
  ok: (v: T) => boolean,
  what: string,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  while (Date.now() < deadline) {
    last = await probe().catch(() => undefined);
    if (last !== undefined && ok(last)) return last;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${what}: not reached in ${timeoutMs} ms; last: ${JSON.stringify(last)}`);
}

export const untilStatus = (env: Env, ok: (s: Status) => boolean, what: string, timeoutMs?: number) =>
  until(() => status(env), ok, what, timeoutMs);

/** Waits until /status shows `code` in lastError (and `also` holds), within seconds. */
export const untilError = (env: Env, code: string, also: (s: Status) => boolean = () => true) =>
  untilStatus(env, (s) => s.lastError?.code === code && also(s), `lastError ${code}`, 20_000);

export const untilStats = (env: Env, ok: (s: Record<string, number>) => boolean, what: string) =>
  until(() => adminStats(env), ok, what);

/** Sets fault knobs on a simulator's control endpoint (`${admin.url}/_sim`, or a SPIRE control port). */
export async function setFaults(controlUrl: string, faults: Record<string, unknown>): Promise<void> {
  const res = await fetch(`${controlUrl}/faults`, { method: 'POST', body: JSON.stringify(faults) });
  expect(res.status, await res.text()).toBe(200);
}

export const adminControl = (env: Env) => `${env.admin.url}/_sim`;

/** One sample of a metric family from /metrics, by its exact label text (`{child="nested-server"}`). */
export async function metric(env: Env, name: string, labels = ''): Promise<number> {
  const scrape = await (await fetch(`${env.httpUrl}/metrics`)).text();
  const line = scrape.split('\n').find((l) => l.startsWith(`poller_bootstrap_${name}${labels} `));
  return line === undefined ? 0 : Number(line.split(' ')[1]);
}

/** Live processes started with one of this test's rendered SPIRE configs (`<run_dir>/conf/…`) in argv. */
export function spireChildren(env: Env): number[] {
  const needle = `${join(runDir(env), 'conf')}/`;
  return readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(needle);
      } catch {
        return false; // exited meanwhile
      }
    })
    .map(Number);
}

/** Waits until no SPIRE child of this test runs (they die with the daemon: setpriv --pdeathsig). */
export const untilNoChildren = (env: Env) =>
  until(
    async () => spireChildren(env),
    (pids) => pids.length === 0,
    'SPIRE children gone',
    15_000,
  );

/** SIGKILLs the daemon (no chance to clean up) and waits for its children to follow it. */
export async function killDaemon(env: Env, daemon: Proc): Promise<void> {
  daemon.child.kill('SIGKILL');
  expect((await daemon.exited).signal).toBe('SIGKILL');
  await untilNoChildren(env);
}

/** A daemon brought to ready from nothing; `token` is the upstream agent's join token (its identity). */
export async function bootReady(
  dir: string,
  overrides?: (c: Record<string, unknown>) => void,
  adminEnv?: NodeJS.ProcessEnv,
  sims?: SimOptions,
) {
  const env = await makeEnv(dir, overrides, adminEnv, sims);
  const daemon = startDaemon(env);
  await waitReady(env, daemon);
  return { env, daemon, token: usedToken(stateDir(env)) };
}

export interface CaseEnd {
  /** 'ready', or the cause /status must show while the daemon waits (phase backoff or degraded). */
  outcome: 'ready' | { code: string };
  /** Tokens the admin API may have issued in the whole case: one per bootstrap, one per injected fault that burns one. */
  maxTokens: number;
  /** The upstream agent's token from before the fault, when its identity was valid then: it must be kept. */
  identity?: string | undefined;
  /** Secrets beyond the agents' tokens and the admin password. */
  secrets?: (string | undefined)[];
  /** Daemons of this case that already exited (killed, refused): their logs are searched for secrets too. */
  earlier?: Proc[];
}

/** The check that ends every case of the matrix; stops the daemon (exit 0) and proves no child outlives it. */
export async function endCase(env: Env, daemon: Proc, end: CaseEnd): Promise<void> {
  const s = await status(env);
  const readyz = (await fetch(`${env.httpUrl}/readyz`)).status;
  if (end.outcome === 'ready') {
    expect([s.phase, readyz], JSON.stringify(s.lastError)).toEqual(['ready', 200]);
  } else {
    expect(['backoff', 'degraded']).toContain(s.phase);
    expect(readyz).not.toBe(200);
    expect(s.lastError?.code).toBe(end.outcome.code);
    expect(s.lastError?.message).toBeTruthy();
  }
  const secrets = [...usedTokens(stateDir(env)), ADMIN_PASSWORD, ...(end.secrets ?? [])];
  for (const d of [daemon, ...(end.earlier ?? [])]) await expectNoSecrets(leakScan(env, d), secrets);
  if (end.identity !== undefined) expect(usedToken(stateDir(env)), 'identity kept').toBe(end.identity);
  expect((await adminStats(env)).join_tokens_issued ?? 0).toBeLessThanOrEqual(end.maxTokens);
  await daemon.stop(30_000);
  expect((await daemon.exited).code).toBe(0);
  expect(spireChildren(env), 'SPIRE children after the daemon stopped').toEqual([]);
}
