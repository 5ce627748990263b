// The runner driven with fake children, token sources and timers: every wait is on an event the runner reports
// (a child started, a transition), never on a clock. One test per defect of the runner before it became a plain
// interpreter of the machine.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { pathLayout } from '../../../src/config/layout.js';
import { parseConfig } from '../../../src/config/load.js';
import type { Config } from '../../../src/config/types.js';
import type { ChildFactory, ChildHandle, ChildHooks } from '../../../src/daemon/children.js';
import { Daemon } from '../../../src/daemon/daemon.js';
import type { Scheduler } from '../../../src/daemon/effects.js';
import { AGENTS, type Child, type MachineState, type TimerKey } from '../../../src/daemon/machine.js';
import { NO_OBSERVER, type Observer } from '../../../src/daemon/observe.js';
import type { ChildSpec } from '../../../src/supervisor/child-types.js';
import { parseLogrusLine } from '../../../src/supervisor/logrus.js';
import { loadBurnedTokens } from '../../../src/token/burned.js';
import { TokenError } from '../../../src/token/errors.js';
import { fingerprint } from '../../../src/token/fingerprint.js';
import { loadMintLog } from '../../../src/token/mint-log.js';
import type { AcquiredToken, TokenSource } from '../../../src/token/sources.js';
import { writeAgentIdentity } from '../../fixtures/agent-identity.js';
import { captureLogger } from '../../fixtures/capture-logger.js';

const roots: string[] = [];
afterAll(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

const T0 = Date.parse('2030-01-01T00:00:00Z');

class FakeChild implements ChildHandle {
  pid: number | undefined;
  readonly specs: ChildSpec[] = [];
  readonly stops: string[] = [];
  #ready: { resolve(): void; reject(e: Error): void } | undefined;
  /** Ready before the runner asked (it may ask a moment after the start). */
  #readyEarly = false;
  constructor(
    readonly name: Child,
    readonly hooks: ChildHooks,
    readonly world: World,
  ) {}
  start(spec: ChildSpec) {
    this.#readyEarly = false;
    this.specs.push(spec);
    this.pid = 1000 + this.specs.length;
    this.world.changed();
  }
  ready(signal: AbortSignal) {
    if (this.#readyEarly) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.#ready = { resolve, reject };
      signal.addEventListener('abort', () => reject(new Error('aborted')), { once: true });
    });
  }
  async stop(reason: string) {
    this.stops.push(reason);
    this.exit(0);
  }
  becomeReady() {
    this.#readyEarly = this.#ready === undefined;
    this.#ready?.resolve();
    this.#ready = undefined;
  }
  exit(code: number) {
    if (this.pid === undefined) return;
    this.pid = undefined;
    this.#ready?.reject(new Error('exited'));
    this.#ready = undefined;
    this.hooks.onExit({
      exitCode: code,
      signal: undefined,
      reason: '',
      upMs: 0,
      lines: [],
      spawnError: undefined,
    });
  }
  say(line: string) {
    this.hooks.onLine(parseLogrusLine(line));
  }
}

/** A source that hands out the given tokens (or throws the given errors) one per call, counting calls. */
function source(name: TokenSource['name'], answers: (string | TokenError)[]) {
  const calls: number[] = [];
  return {
    calls,
    source: {
      name,
      async acquire(): Promise<AcquiredToken> {
        calls.push(calls.length);
        const next = answers[Math.min(calls.length - 1, answers.length - 1)];
        if (next === undefined || next instanceof TokenError) throw next ?? new Error('no answer');
        return {
          token: next,
          source: name,
          fingerprint: fingerprint(next),
          expiresAt: new Date(T0 + 900_000),
        };
      },
    } satisfies TokenSource,
  };
}

/** What a core answering 201 with an unusable body makes the admin source throw: a token may have been minted. */
const unusable = () =>
  new TokenError('admin API answered 201 without a token', {
    code: 'protocol',
    source: 'admin-api',
    retry: 'backoff',
    status: 201,
    mayHaveMinted: true,
  });

interface World {
  changed(): void;
}

async function setUp(
  options: {
    upstream?: (string | TokenError)[];
    downstream?: (string | TokenError)[];
    file?: Record<string, unknown>;
    now?: () => number;
    root?: string;
  } = {},
) {
  const root = options.root ?? mkdtempSync(join(tmpdir(), 'pb-daemon-'));
  roots.push(root);
  const fileConfig = {
    trust_domain: 'example.org',
    state_dir: join(root, 'state'),
    run_dir: join(root, 'run'),
    upstream: { server_address: 'spire.example.org', insecure_bootstrap: true },
    // Nothing listens here: the nested server's TLS identity cannot be read, as before it is up.
    nested_server: { bind_port: 1 },
    token: { max_per_hour: 3 },
    ...options.file,
  };
  const config = parseConfig(fileConfig);
  const layout = pathLayout(config);
  const waiters = new Set<() => void>();
  const world: World = {
    changed: () => {
      for (const w of waiters) w();
    },
  };
  const children = {} as Record<Child, FakeChild>;
  const factory: ChildFactory = (name, hooks) => {
    children[name] = new FakeChild(name, hooks, world);
    return children[name];
  };
  const timers = new Map<TimerKey, { afterMs: number; fire: () => void }>();
  const scheduler: Scheduler = {
    set: (key, afterMs, fire) => void timers.set(key, { afterMs, fire }),
    clear: (key) => void timers.delete(key),
    clearAll: () => timers.clear(),
  };
  const up = source('admin-api', options.upstream ?? ['upstream-token-1']);
  const down = source('nested-server', options.downstream ?? ['downstream-token-1']);
  const audit: string[] = [];
  const observer: Observer = {
    ...NO_OBSERVER,
    transition: () => world.changed(),
    tokenAcquired: (t) => void audit.push(`acquired ${t.source} ${t.fingerprint}`),
    tokenReleased: (t, how) => void audit.push(`${how} ${t.source} ${t.fingerprint}`),
  };
  const registered: string[][] = [];
  const { logger, records } = captureLogger('debug');
  const daemon = new Daemon({
    config,
    layout,
    logger,
    notifier: { enabled: false, ready: async () => {}, status: async () => {}, stopping: async () => {} },
    sources: { 'upstream-agent': [up.source], 'downstream-agent': [down.source] },
    burned: await loadBurnedTokens(join(root, 'state', 'burned-tokens.json'), T0),
    mints: await loadMintLog(join(root, 'state', 'token-mints.json'), AGENTS, (options.now ?? Date.now)()),
    children: factory,
    observer,
    now: options.now ?? (() => Date.now()),
    random: () => 0,
    scheduler,
    registerEntries: async (c: Config) => {
      registered.push(c.workloads.map((w) => w.spiffeId));
      return { counts: { created: 0, updated: 0, deleted: 0, unchanged: c.workloads.length } };
    },
  });
  /** Resolves once `test` holds for the daemon's state (checked after every transition and child start). */
  const until = (test: (s: MachineState) => boolean) =>
    new Promise<void>((resolve) => {
      const check = () => {
        if (!test(daemon.state)) return;
        waiters.delete(check);
        resolve();
      };
      waiters.add(check);
      check();
    });
  const starting = (child: Child, nth = 1) =>
    until((s) => s.children[child].status === 'starting' && (children[child]?.specs.length ?? 0) >= nth);
  /** Drives every child to ready in order, as far as the machine lets it. */
  const bootstrap = async () => {
    for (const c of ['upstream-agent', 'nested-server', 'downstream-agent'] as const) {
      await starting(c, (children[c]?.specs.length ?? 0) + 1);
      children[c].becomeReady();
    }
    await until((s) => s.phase === 'ready');
  };
  /** Fires the pending wait (a backoff, a retry) at once. */
  const firePending = () => {
    const timer = timers.get('pending');
    if (!timer) throw new Error('no pending timer');
    timers.delete('pending');
    timer.fire();
  };
  /** Lets the upstream source be asked `n` times, firing the wait after each answer but the last. */
  const askUpstream = async (n: number) => {
    for (let i = 1; i <= n; i++) {
      await until((s) => s.pending !== null && up.calls.length === i);
      if (i < n) firePending();
    }
  };
  return {
    askUpstream,
    firePending,
    root,
    config,
    layout,
    daemon,
    children,
    timers,
    up,
    down,
    audit,
    registered,
    records,
    until,
    starting,
    bootstrap,
    fileConfig,
  };
}

describe('the runner performs what the machine decides', () => {
  it('waits out refused credentials for about the cap, and /status shows when it fires (defect 1)', async () => {
    const refused = new TokenError('admin API refused the API key (401 Invalid API key)', {
      code: 'unauthorized',
      source: 'admin-api',
      retry: 'slow',
      status: 401,
    });
    const w = await setUp({ upstream: [refused] });
    w.daemon.start();
    await w.until((s) => s.pending !== null);
    // random() is 0: full jitter would have retried at once; a wait for a person is never cut below 80 %.
    expect(w.timers.get('pending')?.afterMs).toBe(240_000);
    expect(w.daemon.state.pending?.dueAt).toBe(w.daemon.state.lastError!.at + 240_000);
    expect(w.daemon.state.lastError).toMatchObject({
      code: 'unauthorized',
      retryable: false,
      hint: expect.stringContaining('credential'),
    });
  });

  it('registers the entries again after a reload that changes a workload (defect 2)', async () => {
    const w = await setUp();
    w.daemon.start();
    await w.bootstrap();
    const added = 'spiffe://example.org/services/checker';
    const next = parseConfig({
      ...w.fileConfig,
      workloads: [{ name: 'checker', spiffe_id: added, selectors: ['unix:uid:0'] }],
    });
    expect(w.daemon.reload(next)).toEqual([]);
    await w.until((s) => s.entriesRegistered && w.registered.length === 2);
    expect(w.registered[1]).toEqual([added]);
  });

  it('gives the downstream agent tokens through the machine: audited, and replaced when refused (defect 3)', async () => {
    const w = await setUp({ downstream: ['downstream-token-1', 'downstream-token-2'] });
    w.daemon.start();
    for (const c of ['upstream-agent', 'nested-server'] as const) {
      await w.starting(c);
      w.children[c].becomeReady();
    }
    await w.starting('downstream-agent');
    w.children['downstream-agent'].say(
      'level=warning msg="Failed to retrieve attestation result" error="rpc error: code = InvalidArgument desc = failed to attest: join token does not exist or has already been used"',
    );
    await w.starting('downstream-agent', 2);
    w.children['downstream-agent'].becomeReady();
    await w.until((s) => s.phase === 'ready');
    expect(w.children['downstream-agent'].stops).toEqual(['token-refused']);
    expect(w.down.calls).toHaveLength(2);
    const [first, second] = ['downstream-token-1', 'downstream-token-2'].map(fingerprint);
    expect(w.audit.filter((a) => a.includes('nested-server'))).toEqual([
      `acquired nested-server ${first}`,
      `rejected nested-server ${first}`,
      `acquired nested-server ${second}`,
      `consumed nested-server ${second}`,
    ]);
    expect(existsSync(w.layout.downstreamAgent.joinTokenFile)).toBe(false);
  });

  it('mints nothing for an identity inside the safety margin that the agent will still load (defect 4a)', async () => {
    const w = await setUp({ file: { identity_safety_margin_seconds: 600 } });
    await writeAgentIdentity(
      w.layout.upstreamAgent,
      'spiffe://example.org/spire/agent/join_token/used-token',
      120,
    );
    w.daemon.start();
    await w.starting('upstream-agent');
    expect(w.up.calls).toEqual([]);
    expect(w.daemon.state.identity['upstream-agent']?.status).toBe('expiring');
    expect(w.audit).toEqual([]);
  });

  it('counts mint requests answered with an unusable body against the hourly limit (defect 4b)', async () => {
    const w = await setUp({ upstream: [unusable()] });
    w.daemon.start();
    await w.askUpstream(3);
    w.firePending();
    await w.until((s) => s.lastError?.code === 'token-limit');
    expect(w.up.calls).toHaveLength(3);
    expect(w.timers.get('pending')!.afterMs).toBeGreaterThan(3_500_000);
  });

  it('keeps counting against the hourly limit across a restart', async () => {
    const first = await setUp({ upstream: [unusable()] });
    first.daemon.start();
    await first.askUpstream(2);
    first.daemon.stop();
    await first.daemon.stopped;
    // Two of three used; the next daemon on the same state directory may ask once more, then waits.
    const second = await setUp({ upstream: [unusable()], root: first.root });
    second.daemon.start();
    await second.askUpstream(1);
    second.firePending();
    await second.until((s) => s.lastError?.code === 'token-limit');
    expect(second.up.calls).toHaveLength(1);
  });

  it('counts and audits minted tokens that arrive already expiring (this clock ahead of the server)', async () => {
    // The sources' tokens expire at T0 + 15 min; this host's clock says it is 10 s before that.
    const w = await setUp({ upstream: ['minted-1', 'minted-2', 'minted-3'], now: () => T0 + 890_000 });
    w.daemon.start();
    await w.askUpstream(3);
    w.firePending();
    await w.until((s) => s.lastError?.code === 'token-limit');
    expect(w.up.calls).toHaveLength(3);
    expect(w.audit).toEqual(
      ['minted-1', 'minted-2', 'minted-3'].map((t) => `discarded admin-api ${fingerprint(t)}`),
    );
  });

  it('deletes a token file a crash left behind once the agent is up on the identity it attested (defect 4c)', async () => {
    const w = await setUp();
    const token = 'token-the-crash-left';
    await writeAgentIdentity(
      w.layout.upstreamAgent,
      `spiffe://example.org/spire/agent/join_token/${token}`,
      3600,
    );
    const file = w.layout.upstreamJoinTokenFile;
    rmSync(dirname(file), { recursive: true, force: true });
    (await import('node:fs')).mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    writeFileSync(file, token, { mode: 0o600 });
    w.daemon.start();
    await w.starting('upstream-agent');
    expect(w.children['upstream-agent'].specs).toHaveLength(1);
    w.children['upstream-agent'].becomeReady();
    await w.until(
      (s) => s.tokens['upstream-agent'] === null && s.children['nested-server'].status === 'starting',
    );
    expect(existsSync(file)).toBe(false);
    expect(w.up.calls).toEqual([]);
    expect(w.audit).toEqual([`consumed file ${fingerprint(token)}`]);
  });

  it('restarts a child that never gets ready and says what it waits for (defect 5)', async () => {
    const w = await setUp();
    w.daemon.start();
    await w.starting('upstream-agent');
    w.children['upstream-agent'].becomeReady();
    await w.starting('nested-server');
    w.timers.get('deadline:nested-server')!.fire();
    await w.until((s) => s.children['nested-server'].status === 'waiting');
    expect(w.children['nested-server'].stops).toEqual(['ready-timeout']);
    expect(w.daemon.state.lastError).toMatchObject({
      code: 'ready-timeout',
      source: 'nested-server',
      message: expect.stringMatching(
        /^the nested-server did not become ready within 120 s; it waits for its SVID from the upstream agent/,
      ),
    });
    expect(w.daemon.state.children['nested-server'].restarts).toBe(1);
  });

  it('does not count a reload restart as a crash (defect 6a)', async () => {
    const w = await setUp();
    w.daemon.start();
    await w.bootstrap();
    // What the real agents would have stored once attested.
    await writeAgentIdentity(w.layout.upstreamAgent, 'spiffe://example.org/spire/agent/join_token/x', 3600);
    await writeAgentIdentity(w.layout.downstreamAgent, 'spiffe://example.org/spire/agent/join_token/y', 3600);
    const next = parseConfig({ ...w.fileConfig, spire: { child_env: ['SPIRE_EXTRA=1'] } });
    expect(w.daemon.reload(next)).toEqual(['upstream-agent', 'nested-server', 'downstream-agent']);
    await w.starting('upstream-agent', 2);
    expect(w.children['upstream-agent'].stops).toEqual(['reload']);
    expect(w.children['upstream-agent'].specs[1]?.env).toEqual({ SPIRE_EXTRA: '1' });
    expect(w.daemon.state.children['upstream-agent'].restarts).toBe(0);
    expect(w.daemon.state.lastError).toBeNull();
    expect(w.up.calls).toHaveLength(1);
  });

  it('is not degraded while it re-acquires a token with no valid identity (defect 6b)', async () => {
    const w = await setUp({ upstream: ['upstream-token-1', 'upstream-token-2'] });
    w.daemon.start();
    await w.bootstrap();
    w.children['upstream-agent'].exit(1);
    await w.until((s) => s.pending?.timer === 'restart');
    expect(w.daemon.state.phase).toBe('backoff');
  });

  it('reads identities with the injected clock (defect 7)', async () => {
    // Two hours from now by the daemon's clock, a one-hour SVID has expired: a token is needed.
    const w = await setUp({ now: () => Date.now() + 2 * 3_600_000 });
    await writeAgentIdentity(w.layout.upstreamAgent, 'spiffe://example.org/spire/agent/join_token/old', 3600);
    w.daemon.start();
    await w.starting('upstream-agent');
    expect(w.daemon.state.identity['upstream-agent']?.status).toBe('expired');
    expect(w.up.calls).toHaveLength(1);
  });

  it('never writes a secret into its log', async () => {
    const w = await setUp();
    w.daemon.start();
    await w.bootstrap();
    expect(JSON.stringify(w.records)).not.toMatch(/upstream-token-1|downstream-token-1/);
  });
});
