import { rmSync } from 'node:fs';
import { Writable } from 'node:stream';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { type CheckState, HealthChecker } from '../sim/common/health.js';
import { createLog } from '../sim/common/log.js';
import type { Proc } from '../sim/launch.js';
import { freePort } from '../sim/launch.js';
import { mintToken, type SimServer, startAgent, startServer } from '../sim/topology.js';
import { sandbox } from './harness.js';

// SPIRE's health listener answers from a cache (pkg/common/health/cache.go): refreshed at start, every 1 s until
// every check is live and ready, then every 60 s. Both intervals follow SIM_TIME_SCALE.

const box = sandbox('sim-health');
afterAll(() => box.cleanup());

const get = async (port: number, path: string) => {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return [res.status, (await res.json()) as Record<string, unknown>] as const;
};
const indexOf = (proc: Proc, re: RegExp) => proc.lines.findIndex((l) => re.test(l));

describe('the health cache', () => {
  const scale = process.env.SIM_TIME_SCALE;
  afterEach(() => {
    if (scale === undefined) delete process.env.SIM_TIME_SCALE;
    else process.env.SIM_TIME_SCALE = scale;
  });

  it('answers 500 with null details before the first check, then the cached state until the next refresh', async () => {
    process.env.SIM_TIME_SCALE = '0.01';
    const lines: string[] = [];
    const seen = (msg: string) => lines.some((l) => l.includes(`msg="${msg}"`));
    const until = async (msg: string) => {
      while (!seen(msg)) await new Promise((r) => setTimeout(r, 5));
    };
    const sink = new Writable({
      write(chunk, _enc, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const port = await freePort();
    const checker = new HealthChecker(
      { listener_enabled: true, bind_address: '127.0.0.1', bind_port: String(port) },
      createLog('text', 'debug', sink),
    );
    let open: () => void = () => {};
    const gate = new Promise<void>((r) => {
      open = r;
    });
    let state: CheckState = { live: true, ready: false, liveDetails: {}, readyDetails: { why: 'starting' } };
    checker.addCheck('sub', async () => {
      await gate;
      return state;
    });
    await checker.listenAndServe();
    try {
      // The first refresh is still running: every check is zero-valued.
      expect(await get(port, '/ready')).toEqual([500, { sub: null }]);
      expect(await get(port, '/live')).toEqual([500, { sub: null }]);
      open();
      await until('Health check failed');
      expect(await get(port, '/ready')).toEqual([500, { sub: { why: 'starting' } }]);
      expect(await get(port, '/live')).toEqual([200, { sub: {} }]);

      // The refresh that finds everything ready switches to the 60 s interval, here scaled to ~17 minutes.
      process.env.SIM_TIME_SCALE = '17';
      state = { live: true, ready: true, liveDetails: {}, readyDetails: {} };
      await until('Health check recovered');
      expect(await get(port, '/ready')).toEqual([200, { sub: {} }]);
      state = { live: false, ready: false, liveDetails: { why: 'gone' }, readyDetails: { why: 'gone' } };
      expect(await get(port, '/ready')).toEqual([200, { sub: {} }]);
      expect(await get(port, '/live')).toEqual([200, { sub: {} }]);
    } finally {
      checker.close();
    }
  });
});

describe('health listeners of the simulated SPIRE processes', () => {
  let server: SimServer;

  it('agent (1.13): listener up 8 s (scaled) into a slow attestation, ready only after a refresh that follows the Workload API', async () => {
    const env = { SIM_TIME_SCALE: '0.1' };
    // Attestation takes 5 s, far beyond the scaled 0.8 s after which 1.13 starts the health listener anyway.
    server = await startServer(box.dir('server'), {
      env: { ...env, SIM_FAULTS: JSON.stringify({ latencyMs: 5_000 }) },
    });
    const token = await mintToken(server);
    const agent = await startAgent(box.dir('agent'), server, {
      joinToken: token.value,
      env,
      waitReady: false,
    });
    await agent.proc.waitFor(/msg="Health check failed" check=agent/);
    expect(agent.proc.lines).toContainEqual(
      expect.stringMatching(/level=warning msg="Health check has failed. Starting up still." check=agent/),
    );
    const unavailable = { agent: { make_new_x509_err: 'workload api is unavailable' } };
    expect(await get(agent.healthPort, '/ready')).toEqual([500, unavailable]);
    // Not started yet, so not dead: live stays 200.
    expect(await get(agent.healthPort, '/live')).toEqual([200, { agent: {} }]);

    await agent.proc.waitFor(/msg="Health check recovered" check=agent/);
    expect(indexOf(agent.proc, /Starting Workload and SDS APIs/)).toBeLessThan(
      indexOf(agent.proc, /Health check recovered/),
    );
    expect(indexOf(agent.proc, /Serving health checks/)).toBeLessThan(
      indexOf(agent.proc, /Starting Workload and SDS APIs/),
    );
    expect(await get(agent.healthPort, '/ready')).toEqual([200, { agent: {} }]);

    // Steady state: the next refresh is 60 s (6 s scaled) away, so a lost socket shows up only then.
    rmSync(agent.socket);
    expect((await get(agent.healthPort, '/ready'))[0]).toBe(200);
    await agent.proc.waitFor(/msg="Health check failed" check=agent.*error="subsystem is not live or ready"/);
    expect(await get(agent.healthPort, '/ready')).toEqual([500, unavailable]);
    expect(await get(agent.healthPort, '/live')).toEqual([500, unavailable]);
    await agent.proc.stop();
  });

  it('agent (1.12): the listener starts only with the Workload API', async () => {
    const env = { SIM_TIME_SCALE: '0.05', SPIRE_SIM_VERSION: '1.12.4' };
    const token = await mintToken(server);
    const agent = await startAgent(box.dir('agent-112'), server, { joinToken: token.value, env });
    expect(indexOf(agent.proc, /Starting Workload and SDS APIs/)).toBeLessThan(
      indexOf(agent.proc, /Serving health checks/),
    );
    expect(agent.proc.lines.some((l) => l.includes('Starting up still'))).toBe(false);
    await agent.proc.stop();
  });

  it('server: listener after the APIs; a lost admin socket fails the "server" check at the next refresh', async () => {
    const s = await startServer(box.dir('server-health'), { env: { SIM_TIME_SCALE: '0.1' } });
    await s.proc.waitFor(/msg="Serving health checks"/);
    expect(indexOf(s.proc, /Starting Server APIs.*network=unix/)).toBeLessThan(
      indexOf(s.proc, /Serving health checks/),
    );
    // Like SPIRE, the simulator logs "Serving health checks" just before it binds: poll until it answers 200.
    const poll = () => get(s.healthPort, '/ready').catch(() => [0, undefined] as const);
    let ready = await poll();
    while (ready[0] !== 200) ready = await poll();
    expect(ready[1]).toEqual({
      'catalog.datastore': {},
      server: {},
      'server.ca': {},
      'server.ca.rotator': {},
    });

    rmSync(s.socket);
    expect((await get(s.healthPort, '/ready'))[0]).toBe(200);
    await s.proc.waitFor(/msg="Health check failed" check=server/);
    const [status, body] = await get(s.healthPort, '/ready');
    expect(status).toBe(500);
    expect(body.server).toEqual({
      get_bundle_err: `unable to fetch bundle: rpc error: code = Unavailable desc = connection error: desc = "transport: Error while dialing: dial unix ${s.socket}: connect: no such file or directory"`,
    });
    expect(body['catalog.datastore']).toEqual({});
  });
});
