import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchX509SvidsOnce } from '../sim/common/workload-client.js';
import { freePort } from '../sim/launch.js';
import { mintToken, type SimServer, startAgent, startServer } from '../sim/topology.js';
import { sandbox } from './harness.js';

// The faults an operator meets, with the log lines and exit codes of real SPIRE (texts built as grpc-go,
// go-spiffe and SPIRE build them; see test/sim/README.md for the sources).

const FAST = { SIM_TIME_SCALE: '0.05' };
// 1.12 does not retry bootstrap, so each failure ends the agent at once.
const NO_RETRY = { ...FAST, SPIRE_SIM_VERSION: '1.12.4' };
const box = sandbox('sim-failures');
let server: SimServer;
let other: SimServer;

beforeAll(async () => {
  [server, other] = await Promise.all([
    startServer(box.dir('server'), { env: FAST }),
    startServer(box.dir('other'), { env: FAST }),
  ]);
});
afterAll(() => box.cleanup());

const crashLine = (lines: string[]) => lines.find((l) => l.includes('msg="Agent crashed"')) ?? '';
const stream = 'could not open attestation stream to SPIRE server: rpc error: code = Unavailable desc = ';

describe('agent: server unreachable or not the one it trusts', () => {
  it('with a trust bundle from another server: x509 verification inside the handshake error, bundle mismatch noted, then a crash', async () => {
    const token = await mintToken(server);
    const agent = await startAgent(
      box.dir('wrong-bundle'),
      { ...server, bundlePath: other.bundlePath },
      {
        joinToken: token.value,
        env: FAST,
        waitReady: false,
      },
    );
    expect((await agent.proc.exited).code).toBe(1);
    const error = `${stream}connection error: desc = \\"transport: authentication handshake failed: x509svid: could not verify leaf certificate: x509: certificate signed by unknown authority\\"`;
    expect(agent.proc.lines).toContainEqual(
      expect.stringMatching(/level=info msg="Trust Bandle and Server dont agree.... bootstrapping again"/),
    );
    expect(agent.proc.lines).toContainEqual(
      expect.stringContaining(`level=warning msg="Failed to retrieve attestation result" error="${error}"`),
    );
    expect(crashLine(agent.proc.lines)).toContain(`error="${error}"`);
    expect(agent.proc.lines.join('\n')).not.toContain('self-signed certificate');
  });

  // The agent dials with round_robin; grpc-go's wording of a failed pick changed with grpc-go 1.71 (SPIRE 1.12).
  const dialing = (d: string) => `connection error: desc = \\"transport: Error while dialing: ${d}\\"`;
  it.each([
    [
      'connection refused',
      '1.12.4',
      true,
      (a: string) => dialing(`dial tcp ${a}: connect: connection refused`),
    ],
    [
      'connection refused',
      '1.11.2',
      true,
      (a: string) => `last connection error: ${dialing(`dial tcp ${a}: connect: connection refused`)}`,
    ],
    ['a name that does not resolve', '1.12.4', false, () => 'no children to pick from'],
    ['a name that does not resolve', '1.11.2', false, () => 'last resolver error: produced zero addresses'],
  ])('%s, as %s words it', async (_name, version, local, desc) => {
    const port = await freePort();
    const host = local ? '127.0.0.1' : 'spire-server.invalid';
    const agent = await startAgent(
      box.dir('unreachable'),
      { ...server, port },
      {
        joinToken: 'unused',
        env: { ...NO_RETRY, SPIRE_SIM_VERSION: version },
        waitReady: false,
        serverAddress: host,
      },
    );
    expect((await agent.proc.exited).code).toBe(1);
    expect(crashLine(agent.proc.lines)).toContain(`error="${stream}${desc(`${host}:${port}`)}"`);
  });

  it('a server that accepts but never completes TLS: the handshake deadline (20 s, scaled) expires', async () => {
    const silent: Server = createServer(() => {});
    const port = await freePort();
    await new Promise<void>((r) => silent.listen(port, '127.0.0.1', r));
    try {
      const agent = await startAgent(
        box.dir('silent'),
        { ...server, port },
        { joinToken: 'unused', env: NO_RETRY, waitReady: false },
      );
      expect((await agent.proc.exited).code).toBe(1);
      expect(crashLine(agent.proc.lines)).toContain(
        `error="${stream}connection error: desc = \\"transport: authentication handshake failed: context deadline exceeded\\""`,
      );
    } finally {
      silent.close();
    }
  });
});

describe('fatal start-up errors', () => {
  const serverCrash = (s: SimServer) =>
    s.proc.lines.filter((l) => /msg="(Fatal run error|Server crashed)"/.test(l));

  it.each([
    [
      'a datastore that is not a database',
      (p: string) => writeFileSync(p, 'SQLite format 3\0garbage'),
      'datastore-sql: file is not a database',
    ],
    [
      'a datastore path that cannot be opened',
      (p: string) => mkdirSync(p, { recursive: true }),
      'datastore-sql: unable to open database file: is a directory',
    ],
  ])('%s', async (_name, spoil, error) => {
    const dir = box.dir('bad-datastore');
    mkdirSync(join(dir, 'data'), { recursive: true });
    spoil(join(dir, 'data', 'datastore.sqlite3'));
    const s = await startServer(dir, { env: FAST, waitReady: false });
    expect((await s.proc.exited).code).toBe(1);
    expect(serverCrash(s).map((l) => /msg="([^"]+)" error="([^"]*)"/.exec(l)?.slice(1))).toEqual([
      ['Fatal run error', error],
      ['Server crashed', error],
    ]);
  });

  it('a corrupt KeyManager keys file', async () => {
    const dir = box.dir('bad-keys');
    mkdirSync(join(dir, 'data'), { recursive: true });
    writeFileSync(join(dir, 'data', 'keys.json'), '{"keys": {"x509-CA-A": ');
    const s = await startServer(dir, { env: FAST, waitReady: false });
    expect((await s.proc.exited).code).toBe(1);
    const inner =
      'rpc error: code = Internal desc = unable to decode keys JSON: unexpected end of JSON input';
    expect(s.proc.lines).toContainEqual(
      expect.stringContaining(
        `level=error msg="Failed to configure plugin" error="${inner}" external=false plugin_name=disk plugin_type=KeyManager subsystem_name=catalog`,
      ),
    );
    expect(serverCrash(s).at(-1)).toContain(
      `msg="Server crashed" error="failed to configure plugin \\"disk\\": ${inner}"`,
    );
  });

  it('a server port already in use', async () => {
    const busy = createServer();
    const port = await freePort();
    await new Promise<void>((r) => busy.listen(port, '127.0.0.1', r));
    try {
      const dir = box.dir('busy-port');
      const s = await startServer(dir, { env: FAST, waitReady: false, port });
      expect((await s.proc.exited).code).toBe(1);
      expect(serverCrash(s).at(-1)).toContain(
        `msg="Server crashed" error="listen tcp 127.0.0.1:${port}: bind: address already in use"`,
      );
    } finally {
      busy.close();
    }
  });

  it('an agent health port already in use only costs the listener: the Workload API still serves', async () => {
    const busy = createServer();
    const healthPort = await freePort();
    await new Promise<void>((r) => busy.listen(healthPort, '127.0.0.1', r));
    try {
      const token = await mintToken(server);
      const agent = await startAgent(box.dir('busy-health'), server, {
        joinToken: token.value,
        env: FAST,
        healthPort,
        waitReady: false,
      });
      await agent.proc.waitFor(/msg="Error serving health checks"/);
      // The health listener may fail before attestation ends: ask the Workload API once it is served.
      await agent.proc.waitFor(/msg="Starting Workload and SDS APIs"/);
      expect(agent.proc.lines).toContainEqual(
        expect.stringContaining(
          `level=warning msg="Error serving health checks" error="listen tcp 127.0.0.1:${healthPort}: bind: address already in use" subsystem_name=health`,
        ),
      );
      // From 1.13 the health listener starts 8 s (scaled) after start even before attestation, so on a loaded
      // machine its failure can come first: wait for the Workload API itself before asking it.
      await agent.proc.waitFor(/msg="Starting Workload and SDS APIs"/);
      await expect(fetchX509SvidsOnce(agent.socket)).rejects.toMatchObject({ details: 'no identity issued' });
      expect(agent.proc.child.exitCode).toBeNull();
    } finally {
      busy.close();
    }
  });
});
