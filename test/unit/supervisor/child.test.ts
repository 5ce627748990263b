import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { Child, type ChildOptions, type ChildSpec } from '../../../src/supervisor/child.js';
import { ChildError } from '../../../src/supervisor/errors.js';
import type { ParsedLine } from '../../../src/supervisor/logrus.js';
import { fingerprint } from '../../../src/token/fingerprint.js';
import { captureLogger } from '../../fixtures/capture-logger.js';

const fixture = (name: string) => fileURLToPath(new URL(`../../fixtures/${name}`, import.meta.url));
const pids: number[] = [];

/** A Child running `node <fixture>` whose pid is remembered for the leak check. */
function nodeChild(
  script: string,
  options: Partial<ChildOptions> &
    Pick<ChildSpec, 'env' | 'readiness' | 'readyLine'> & { logger: ChildOptions['logger'] },
) {
  const { env, readiness, readyLine, ...rest } = options;
  const child = new Child({ name: script, graceMs: 30_000, ...rest });
  const spec: ChildSpec = {
    command: process.execPath,
    args: [fixture(script)],
    env,
    readiness,
    readyLine: readyLine ?? /Starting Workload and SDS APIs/,
  };
  return {
    child,
    start() {
      child.start(spec);
      if (child.state.pid !== undefined) pids.push(child.state.pid);
    },
  };
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** Resolves with the first parsed line whose message is `msg`. */
function lineSeen(msg: string) {
  let resolve!: (line: ParsedLine) => void;
  const seen = new Promise<ParsedLine>((r) => {
    resolve = r;
  });
  return { seen, onLine: (line: ParsedLine) => line.msg === msg && resolve(line) };
}

afterAll(() => {
  expect(pids.length).toBeGreaterThan(0);
  for (const pid of pids)
    expect(() => process.kill(pid, 0)).toThrow(expect.objectContaining({ code: 'ESRCH' }));
});

describe('Child', () => {
  it('becomes ready via HTTP /ready, re-logs its lines, then stops on SIGTERM', async () => {
    const { logger, records } = captureLogger();
    const port = await freePort();
    const { child, start } = nodeChild('ready-server.mjs', {
      name: 'upstream-agent',
      env: { READY_PORT: String(port) },
      readiness: { url: `http://127.0.0.1:${port}/ready` },
      logger,
    });
    expect(child.state.status).toBe('idle');
    start();
    expect(child.state).toMatchObject({ status: 'starting', restarts: 0 });
    await child.ready();
    expect(child.state.status).toBe('ready');

    const exit = await child.stop('shutdown');
    expect(exit).toMatchObject({ exitCode: 0, signal: undefined, reason: 'shutdown' });
    expect(child.state).toMatchObject({ status: 'stopped', reason: 'shutdown', exitCode: 0, pid: undefined });

    const fromChild = records.filter((r) => r.child === 'upstream-agent');
    expect(fromChild).toContainEqual(
      expect.objectContaining({
        level: 'info',
        msg: 'Starting agent',
        data_dir: '/var/lib/agent',
        version: '1.13.3',
      }),
    );
    expect(fromChild).toContainEqual(
      expect.objectContaining({ level: 'warn', msg: 'Fixture warning', token: '[REDACTED]', n: 3 }),
    );
    expect(fromChild).toContainEqual(
      expect.objectContaining({
        msg: 'Node attestation was successful',
        // The spent token shows as its fingerprint, as in /status and the audit trail.
        spiffe_id: `spiffe://example.org/spire/agent/join_token/${fingerprint('fixture-join-token')}…`,
      }),
    );
    expect(fromChild).toContainEqual(expect.objectContaining({ msg: 'Stopping agent' }));
    expect(JSON.stringify(records)).not.toMatch(/fixture-secret-token|fixture-join-token/);
  });

  it('rejects ready() with the exit code and last lines when the child exits first', async () => {
    const { logger } = captureLogger();
    const lines: ParsedLine[] = [];
    const { child, start } = nodeChild('crash.mjs', {
      name: 'upstream-agent',
      readiness: async () => false,
      onLine: (line) => lines.push(line),
      logger,
    });
    start();
    const error: unknown = await child.ready().catch((e) => e);
    expect(error).toBeInstanceOf(ChildError);
    expect(error).toMatchObject({
      message: 'upstream-agent exited with code 1 before it was ready',
      child: 'upstream-agent',
      phase: 'ready',
      exitCode: 1,
      signal: undefined,
      lines: [
        'level=info msg="Starting agent"',
        'level=error msg="Agent crashed" error="failed to attest: join token does not exist or has already been used"',
      ],
    });
    expect(lines[1]).toEqual({
      level: 'error',
      msg: 'Agent crashed',
      fields: { error: 'failed to attest: join token does not exist or has already been used' },
    });
    expect(child.state).toMatchObject({ status: 'exited', reason: 'exited', exitCode: 1 });
    // A stop after the child ended on its own keeps the first reason.
    expect(await child.stop('shutdown')).toMatchObject({ reason: 'exited' });

    start();
    expect(child.state.restarts).toBe(1);
    await expect(child.ready()).rejects.toThrow(ChildError);
  });

  it('escalates to SIGKILL when the child ignores SIGTERM', async () => {
    const { logger, records } = captureLogger();
    const installed = lineSeen('handler installed');
    const { child, start } = nodeChild('ignore-sigterm.mjs', {
      name: 'nested-server',
      graceMs: 200,
      onLine: installed.onLine,
      logger,
    });
    start();
    await installed.seen;
    const stopping = child.stop('token-rejected');
    const again = child.stop('shutdown');
    const exit = await stopping;
    expect(exit).toMatchObject({ signal: 'SIGKILL', exitCode: undefined, reason: 'token-rejected' });
    expect(await again).toBe(exit);
    expect(child.state).toMatchObject({ status: 'stopped', signal: 'SIGKILL', reason: 'token-rejected' });
    expect(records).toContainEqual(
      expect.objectContaining({
        child: 'nested-server',
        level: 'warn',
        msg: 'child ignored SIGTERM; it was killed with SIGKILL',
      }),
    );
  });

  it('asks again the moment the child logs its ready line, not at its next poll', async () => {
    const { logger } = captureLogger();
    let said = false;
    const { child, start } = nodeChild('late-ready.mjs', {
      logger,
      // Without the line the next ask would come after this test's timeout.
      pollMs: 120_000,
      readiness: async () => said,
      onLine: (line) => {
        if (line.msg === 'Starting Workload and SDS APIs') said = true;
      },
    });
    start();
    await child.ready();
    expect(child.state.status).toBe('ready');
    await child.stop('done');
  });

  it('asks again at once when the ready line came while it was asking', async () => {
    const { logger } = captureLogger();
    let lineSeen: () => void = () => {};
    const line = new Promise<void>((resolve) => {
      lineSeen = resolve;
    });
    let asks = 0;
    const { child, start } = nodeChild('late-ready.mjs', {
      logger,
      pollMs: 120_000,
      // The first ask is still out when the line comes, and answers "not yet"; the next says ready.
      readiness: async () => {
        asks++;
        if (asks === 1) return line.then(() => false);
        return true;
      },
      onLine: (l) => {
        if (l.msg === 'Starting Workload and SDS APIs') lineSeen();
      },
    });
    start();
    await child.ready();
    expect(asks).toBe(2);
    await child.stop('done');
  });

  it('gives the child only the environment it was passed, plus PATH', async () => {
    process.env.POLLER_TEST_API_KEY = 'must-not-leak';
    const { logger } = captureLogger();
    let keys: unknown;
    const { child, start } = nodeChild('print-env.mjs', {
      env: { SPIRE_LOG: 'x' },
      onLine: (line) => {
        if (line.msg === 'environment') keys = line.fields.keys;
      },
      logger,
    });
    try {
      start();
      const exit = await child.exited();
      expect(exit).toMatchObject({ exitCode: 0, reason: 'exited' });
      expect(keys).toEqual(['PATH', 'SPIRE_LOG']);
    } finally {
      delete process.env.POLLER_TEST_API_KEY;
    }
  });

  it('reports a command that cannot be spawned as a start failure', async () => {
    const { logger } = captureLogger();
    const child = new Child({ name: 'missing', logger });
    child.start({ command: '/nonexistent/spire-agent', args: ['run'] });
    const error: unknown = await child.ready().catch((e) => e);
    expect(error).toMatchObject({
      name: 'ChildError',
      message: 'missing could not be started before it was ready',
      phase: 'start',
      exitCode: undefined,
    });
    expect((error as ChildError).cause).toMatchObject({ code: 'ENOENT' });
  });

  it('refuses to start twice and to wait on a child never started', async () => {
    const { logger } = captureLogger();
    const { child, start } = nodeChild('ignore-sigterm.mjs', { logger, graceMs: 200 });
    expect(() => child.exited()).toThrow('ignore-sigterm.mjs was never started');
    start();
    expect(() => start()).toThrow('ignore-sigterm.mjs is already running');
    expect(await child.stop()).toMatchObject({ reason: 'stopped' });
  });
});
