// Fault matrix row 4: the ServiceRadar admin API down, failing, slow, garbled, refusing or throttling.
import { writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../sim/launch.js';
import { sandbox } from '../sim-tests/harness.js';
import {
  adminControl,
  endCase,
  metric,
  type Status,
  section,
  setFaults,
  untilError,
  untilStats,
  waitedMs,
} from './faults.js';
import { ADMIN_PASSWORD, adminStats, type Env, makeEnv, startDaemon, waitReady } from './harness.js';

const box = sandbox('e2e-faults-admin');
afterAll(() => box.cleanup());

const API_KEY = 'e2e-admin-api-key-4c1d7e';

/** An admin API reached with an API key: no login in between, so every request is a mint request. */
async function apiKeyEnv(name: string, timeoutSeconds?: number): Promise<Env> {
  const dir = box.dir(name);
  return makeEnv(
    dir,
    (c) => {
      const keyFile = join(dir, 'admin-api-key');
      writeFileSync(keyFile, API_KEY, { mode: 0o600 });
      const { url } = section(c, 'admin_api');
      c.admin_api = { url, allow_http: true, api_key_file: keyFile, timeout_seconds: timeoutSeconds };
    },
    {},
    { adminConfig: { api_keys: [{ key: API_KEY }], rbac: false } },
  );
}

/** Waits until the daemon shows `code` while it waits to ask a token source again. */
const untilWaiting = (env: Env, code: string) =>
  untilError(env, code, (s) => s.phase === 'backoff' && s.pending?.timer === 'token-retry');

interface BadAnswer {
  name: string;
  faults: Record<string, number>;
  timeoutSeconds?: number;
  code: string;
  message: RegExp;
  /** How many tokens the fault may have cost: mint requests it hit after (or while) the server minted. */
  lost(env: Env, stats: Record<string, number>): Promise<number>;
  /** Whether each of them was surely minted (a timed-out request may be dropped by the server before it mints). */
  surely: boolean;
}

const BAD_ANSWERS: BadAnswer[] = [
  {
    name: '5xx',
    faults: { failNext: 1_000, failStatus: 500 },
    code: 'unavailable',
    message: /answered 500/,
    // core fails before minting here; the daemon still counts it as a possible mint.
    lost: async () => 0,
    surely: true,
  },
  {
    name: 'timeout',
    faults: { latencyMs: 3_000 },
    timeoutSeconds: 1,
    code: 'timeout',
    message: /did not answer within 1000 ms/,
    lost: (env) => metric(env, 'token_requests_total', '{source="admin-api",result="timeout"}'),
    surely: false,
  },
  {
    name: 'slow body',
    faults: { slowBodyNext: 1_000, slowBodyMs: 5_000 },
    timeoutSeconds: 1,
    code: 'timeout',
    message: /did not answer within 1000 ms/,
    lost: async (_env, stats) => stats.faults_slow_body ?? 0,
    surely: true,
  },
  {
    name: 'malformed JSON',
    faults: { malformedNext: 1_000 },
    code: 'protocol',
    message: /with a body that is not a JSON object/,
    lost: async (_env, stats) => stats.faults_malformed ?? 0,
    surely: true,
  },
  {
    name: 'oversize body',
    faults: { oversizeNext: 1_000 },
    code: 'protocol',
    message: /with a body over 65536 bytes/,
    lost: async (_env, stats) => stats.faults_oversize ?? 0,
    surely: true,
  },
];

const CLEARED = { failNext: 0, latencyMs: 0, slowBodyNext: 0, malformedNext: 0, oversizeNext: 0 };

describe('the admin API failing', () => {
  it.each(BAD_ANSWERS)('retries after a $name answer, losing at most the token it hit', async (c) => {
    const env = await apiKeyEnv(c.name.replace(/\W/g, '-'), c.timeoutSeconds);
    await setFaults(adminControl(env), c.faults);
    const daemon = startDaemon(env);
    const waiting = await untilWaiting(env, c.code);
    expect(waiting.lastError).toMatchObject({ source: 'admin-api', retryable: true });
    expect(waiting.lastError?.message).toMatch(c.message);
    await setFaults(adminControl(env), CLEARED);
    await waitReady(env, daemon);
    const stats = await adminStats(env);
    const lost = await c.lost(env, stats);
    expect(stats.join_tokens_issued).toBeLessThanOrEqual(1 + lost);
    expect(stats.join_tokens_issued).toBeGreaterThanOrEqual(c.surely ? 1 + lost : 1);
    await endCase(env, daemon, { outcome: 'ready', maxTokens: 1 + lost, secrets: [API_KEY] });
  });

  it('waits for an admin API that is down, and gets ready once it answers', async () => {
    const port = await freePort();
    const env = await makeEnv(box.dir('down'), (c) => {
      section(c, 'admin_api').url = `http://127.0.0.1:${port}`;
    });
    const daemon = startDaemon(env);
    const waiting = await untilWaiting(env, 'unavailable');
    expect(waiting.lastError?.message).toContain(
      `cannot reach the admin API at http://127.0.0.1:${port}/auth/login`,
    );
    // The admin API comes back on its address.
    const target = new URL(env.admin.url);
    const proxy = createServer((socket) =>
      socket.pipe(connect(Number(target.port), target.hostname)).pipe(socket),
    );
    await new Promise<void>((resolve) => proxy.listen(port, '127.0.0.1', resolve));
    try {
      await waitReady(env, daemon);
      await endCase(env, daemon, { outcome: 'ready', maxTokens: 1 });
    } finally {
      await new Promise((resolve) => proxy.close(resolve));
    }
  });

  it('logs in again when its session expired, after a refused token forced a second mint', async () => {
    const env = await makeEnv(
      box.dir('relogin'),
      undefined,
      {},
      {
        // The first token is refused; attestations take 1.5 s, the time to end the session meanwhile.
        serverEnv: { SIM_FAULTS: JSON.stringify({ rejectAttestations: 1, latencyMs: 1_500 }) },
      },
    );
    const daemon = startDaemon(env);
    await untilStats(env, (s) => s.join_tokens_issued === 1, 'first token minted');
    await setFaults(adminControl(env), { expireSessions: 1 });
    await waitReady(env, daemon, 60_000);
    expect(await adminStats(env)).toMatchObject({
      sessions_expired: 1,
      logins: 2,
      join_tokens_401: 1,
      join_tokens_issued: 2,
    });
    await endCase(env, daemon, { outcome: 'ready', maxTokens: 2 });
  });

  it('waits about five minutes for a credential without the admin role, minting nothing', async () => {
    const env = await makeEnv(
      box.dir('forbidden'),
      undefined,
      {},
      {
        adminConfig: { users: [{ username: 'edge-bootstrap', password: ADMIN_PASSWORD, roles: ['viewer'] }] },
      },
    );
    const daemon = startDaemon(env);
    const waiting: Status = await untilWaiting(env, 'forbidden');
    expect(waiting.lastError).toMatchObject({ source: 'admin-api', retryable: false });
    expect(waiting.lastError?.hint).toContain('admin role');
    expect(waitedMs(waiting)).toBeGreaterThanOrEqual(240_000);
    expect(waitedMs(waiting)).toBeLessThanOrEqual(360_000);
    expect(await adminStats(env)).toMatchObject({ forbidden: 1 });
    await endCase(env, daemon, { outcome: { code: 'forbidden' }, maxTokens: 0 });
  });

  it('honours a 429 with Retry-After', async () => {
    const env = await makeEnv(box.dir('429'), undefined, {
      SIM_FAULTS: JSON.stringify({ failNext: 1, failStatus: 429, retryAfterSeconds: 2 }),
    });
    const daemon = startDaemon(env);
    const waiting = await untilWaiting(env, 'unavailable');
    expect(waiting.lastError).toMatchObject({ retryAfterMs: 2_000 });
    expect(waitedMs(waiting)).toBeGreaterThanOrEqual(2_000);
    await waitReady(env, daemon);
    await endCase(env, daemon, { outcome: 'ready', maxTokens: 1 });
  });
});
