// Fault matrix rows 1 and 2: the daemon itself killed or stopped mid-bootstrap, a child an earlier daemon left
// running, and a second daemon on the same state directory.
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { pidFiles } from '../../src/supervisor/pidfiles.js';
import { freePort, SIM_BIN, spawnProc } from '../sim/launch.js';
import { sandbox } from '../sim-tests/harness.js';
import {
  adminControl,
  bootReady,
  child,
  endCase,
  killDaemon,
  runDir,
  setFaults,
  spireChildren,
  stateDir,
  status,
  until,
  untilStats,
  untilStatus,
} from './faults.js';
import { type Env, FAST_SIM, makeEnv, type SimOptions, startDaemon, waitReady } from './harness.js';
import { usedToken } from './secrets.js';

const box = sandbox('e2e-faults-daemon');
afterAll(() => box.cleanup());

// Delays every answer of the nested server and the agents' Workload APIs, so that starting the nested server
// and the downstream agent each take long enough to be caught.
const SLOW_CHILDREN = (c: Record<string, unknown>) => {
  const spire = c.spire as { child_env: string[] };
  spire.child_env = [...FAST_SIM, `SIM_FAULTS=${JSON.stringify({ latencyMs: 1_000 })}`];
};

interface PhaseCase {
  phase: string;
  overrides?: (c: Record<string, unknown>) => void;
  /** The simulators' options, given a free port for the cluster server's control endpoint. */
  sims?: (controlPort: number) => SimOptions;
  /** Holds the daemon in `phase`; resolves once it is there. */
  reach(env: Env, control: string): Promise<unknown>;
  /** Tokens in all: a request or attestation in flight at the kill may burn one. */
  tokens: number;
}

const inPhase = (phase: string, withChild?: string) => (env: Env) =>
  untilStatus(
    env,
    (s) => s.phase === phase && (withChild === undefined || child(s, withChild).pid !== null),
    phase,
  );

const PHASES: PhaseCase[] = [
  {
    phase: 'acquire-token',
    async reach(env) {
      // The admin API answers only after 2 s: the kill lands while the mint request is in flight.
      await setFaults(adminControl(env), { latencyMs: 2_000 });
      return untilStats(env, (s) => s.join_tokens_requested === 1, 'mint request in flight');
    },
    tokens: 2,
  },
  {
    phase: 'start-upstream-agent',
    // The cluster server answers attestations after 1.5 s: the agent is killed while the server holds its
    // token, which the server then burns; the next daemon finds that token in the file, sees it refused and
    // gets a second one.
    sims: (port) => ({
      serverEnv: { SIM_FAULTS: JSON.stringify({ latencyMs: 1_500 }), SIM_CONTROL_PORT: String(port) },
    }),
    reach: (_env, control) =>
      until(
        async () => (await (await fetch(`${control}/stats`)).json()) as Record<string, number>,
        (stats) => stats.attest === 1,
        'attestation in flight',
      ),
    tokens: 2,
  },
  {
    phase: 'start-nested-server',
    overrides: SLOW_CHILDREN,
    reach: inPhase('start-nested-server', 'nested-server'),
    tokens: 1,
  },
  {
    phase: 'start-downstream-agent',
    overrides: SLOW_CHILDREN,
    reach: inPhase('start-downstream-agent', 'downstream-agent'),
    tokens: 1,
  },
  { phase: 'ready', reach: inPhase('ready'), tokens: 1 },
];

describe('the daemon killed, stopped or doubled', () => {
  it.each(PHASES)('SIGKILLed in $phase: children die with it, the next daemon gets ready', async (c) => {
    const port = await freePort();
    const env = await makeEnv(box.dir(`kill-${c.phase}`), c.overrides, {}, c.sims?.(port));
    const first = startDaemon(env);
    await c.reach(env, `http://127.0.0.1:${port}`);
    expect((await status(env)).phase).toBe(c.phase);
    await killDaemon(env, first);
    const attested = usedToken(stateDir(env));
    await setFaults(adminControl(env), { latencyMs: 0 });

    const again = startDaemon(env);
    await waitReady(env, again, 60_000);
    await endCase(env, again, {
      outcome: 'ready',
      maxTokens: c.tokens,
      identity: attested,
      earlier: [first],
    });
  });

  it('stops the child an earlier daemon left running before it spawns its own', async () => {
    const { env, daemon, token } = await bootReady(box.dir('orphan'));
    await daemon.stop();
    // A stand-in for an upstream agent that outlived its daemon: the daemon's own command line and pid file.
    const config = join(runDir(env), 'conf', 'upstream-agent.conf');
    const orphan = spawnProc('orphan', join(SIM_BIN, 'spire-agent'), ['run', '-config', config], {
      SIM_TIME_SCALE: '0.05',
    });
    await orphan.waitFor(/Starting Workload and SDS APIs/);
    await pidFiles(join(runDir(env), 'pids')).record('upstream-agent', orphan.child.pid as number, config);

    const again = startDaemon(env);
    await waitReady(env, again);
    expect((await orphan.exited).code).toBe(0);
    const stopped = again.lines.findIndex((l) =>
      l.includes(`stopped the upstream-agent an earlier daemon left running (pid ${orphan.child.pid})`),
    );
    const spawned = again.lines.findIndex((l) => /"child":"upstream-agent".*"msg":"child started"/.test(l));
    expect(stopped).toBeGreaterThanOrEqual(0);
    expect(stopped).toBeLessThan(spawned);
    await endCase(env, again, { outcome: 'ready', maxTokens: 1, identity: token, earlier: [daemon] });
  });

  it('refuses a second daemon on the same state directory (exit 69, naming the holder)', async () => {
    const { env, daemon, token } = await bootReady(box.dir('lock'));
    const second = startDaemon(env);
    expect((await second.exited).code).toBe(69);
    expect(second.lines.join('\n')).toContain(
      `another poller-bootstrap (pid ${daemon.child.pid}) is running`,
    );
    await endCase(env, daemon, { outcome: 'ready', maxTokens: 1, identity: token, earlier: [second] });
  });

  it('exits 0 on SIGTERM while the nested server starts, leaving nothing running', async () => {
    const env = await makeEnv(box.dir('term-nested'), SLOW_CHILDREN);
    const first = startDaemon(env);
    await inPhase('start-nested-server', 'nested-server')(env);
    first.child.kill('SIGTERM');
    expect((await first.exited).code).toBe(0);
    expect(spireChildren(env)).toEqual([]);
    const attested = usedToken(stateDir(env));
    expect(attested).toBeDefined();

    const again = startDaemon(env);
    await waitReady(env, again, 60_000);
    await endCase(env, again, { outcome: 'ready', maxTokens: 1, identity: attested, earlier: [first] });
  });
});
