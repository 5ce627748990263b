import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callUnary, services } from '../../src/spire/proto.js';
import { fetchX509SvidsOnce } from '../sim/common/workload-client.js';
import { fromPem, splitDer, verifySignedBy } from '../sim/common/x509.js';
import { SIM_BIN, waitForHttp } from '../sim/launch.js';
import {
  createEntries,
  joinTokenAgentId,
  mintToken,
  type SimServer,
  startAgent,
  startServer,
} from '../sim/topology.js';
import { listeningAddresses, sandbox } from './harness.js';

const FAST = { SIM_TIME_SCALE: '0.05' };
const uid = process.getuid?.() ?? 0;
const box = sandbox('sim-server');
let server: SimServer;

const admin = (socket: string) => ({
  agent: new services.agent(`unix:${socket}`, grpc.credentials.createInsecure()),
  entry: new services.entry(`unix:${socket}`, grpc.credentials.createInsecure()),
});

beforeAll(async () => {
  server = await startServer(box.dir('server'), { env: FAST });
});
afterAll(() => box.cleanup());

describe('simulated spire-server admin API', () => {
  it('validates CreateJoinToken as SPIRE does', async () => {
    const { agent } = admin(server.socket);
    const cases: [object, string][] = [
      [{ ttl: 0 }, 'ttl is required, you must provide one'],
      [
        { ttl: 60, agent_id: { trust_domain: 'example.org', path: '/spire/agent/x' } },
        'invalid agent ID: "spiffe://example.org/spire/agent/x" is not a workload in trust domain "example.org"; path is in the reserved namespace',
      ],
      [
        { ttl: 60, agent_id: { trust_domain: 'other.org', path: '/x' } },
        'invalid agent ID: "spiffe://other.org/x" is not a member of trust domain "example.org"',
      ],
    ];
    for (const [req, message] of cases) {
      await expect(callUnary(agent, 'CreateJoinToken', req)).rejects.toMatchObject({
        code: grpc.status.INVALID_ARGUMENT,
        details: message,
      });
    }
    const token = await callUnary<{ value: string; expires_at: number }>(agent, 'CreateJoinToken', {
      ttl: 60,
      token: 'chosen',
    });
    expect(token.value).toBe('chosen');
    expect(token.expires_at - Math.floor(Date.now() / 1000)).toBeGreaterThan(50);
    agent.close();
  });

  it('creates an alias entry when a token names an agent ID', async () => {
    const token = await mintToken(server, 60, 'spiffe://example.org/poller/alias');
    const { entry } = admin(server.socket);
    const res = await callUnary<{
      entries: { parent_id: { path: string }; selectors: { type: string; value: string }[] }[];
    }>(entry, 'ListEntries', {
      filter: { by_spiffe_id: { trust_domain: 'example.org', path: '/poller/alias' } },
    });
    expect(res.entries).toHaveLength(1);
    expect(res.entries[0]?.parent_id.path).toBe(`/spire/agent/join_token/${token.value}`);
    expect(res.entries[0]?.selectors).toEqual([
      { type: 'spiffe_id', value: joinTokenAgentId(server, token.value) },
    ]);
    entry.close();
  });

  it('answers ALREADY_EXISTS with the existing entry, NOT_FOUND for a missing id, and bumps revisions on update', async () => {
    const spec = {
      spiffeId: 'spiffe://example.org/dup',
      parentId: 'spiffe://example.org/spire/agent/x',
      selectors: ['unix:uid:1'],
    };
    const [first] = await createEntries(server, [spec]);
    const [second] = await createEntries(server, [spec]);
    expect(first?.code).toBe(0);
    expect(second).toEqual({ code: grpc.status.ALREADY_EXISTS, id: first?.id });

    const { entry } = admin(server.socket);
    const upd = await callUnary<{
      results: { status: { code: number }; entry: { x509_svid_ttl: number; revision_number: number } }[];
    }>(entry, 'BatchUpdateEntry', {
      entries: [{ id: first?.id, x509_svid_ttl: 120 }],
      input_mask: { x509_svid_ttl: true },
    });
    expect(upd.results[0]?.status.code).toBe(0);
    expect(upd.results[0]?.entry).toMatchObject({ x509_svid_ttl: 120, revision_number: 1 });

    const del = await callUnary<{ results: { status: { code: number; message: string }; id: string }[] }>(
      entry,
      'BatchDeleteEntry',
      { ids: [first?.id, 'no-such-id'] },
    );
    expect(del.results.map((r) => [r.status.code, r.status.message])).toEqual([
      [0, 'OK'],
      [grpc.status.NOT_FOUND, 'entry not found'],
    ]);
    entry.close();
  });

  it('keeps tokens, entries and its CA across a restart', async () => {
    const dir = box.dir('server-restart');
    const first = await startServer(dir, { env: FAST });
    const bundle = readFileSync(first.bundlePath, 'utf8');
    const token = await mintToken(first);
    await createEntries(first, [
      {
        spiffeId: 'spiffe://example.org/kept',
        parentId: joinTokenAgentId(first, token.value),
        selectors: [`unix:uid:${uid}`],
      },
    ]);
    await first.proc.stop();

    const again = await startServer(dir, { env: FAST });
    expect(readFileSync(again.bundlePath, 'utf8')).toBe(bundle);
    const agent = await startAgent(box.dir('agent-after-restart'), again, {
      joinToken: token.value,
      env: FAST,
    });
    let ids: string[] = [];
    while (ids.length === 0)
      ids = await fetchX509SvidsOnce(agent.socket).then(
        (s) => s.map((x) => x.spiffe_id),
        () => [],
      );
    expect(ids).toEqual(['spiffe://example.org/kept']);
    await agent.proc.stop();
    await again.proc.stop();
  });

  it('serves health, the healthcheck command and bundle show; listens on loopback only', async () => {
    await waitForHttp(`http://127.0.0.1:${server.healthPort}/ready`);
    const res = await fetch(`http://127.0.0.1:${server.healthPort}/live`);
    expect(await res.json()).toEqual({
      'catalog.datastore': {},
      server: {},
      'server.ca': {},
      'server.ca.rotator': {},
    });
    const hc = spawnSync(join(SIM_BIN, 'spire-server'), ['healthcheck', '-socketPath', server.socket], {
      encoding: 'utf8',
    });
    expect([hc.status, hc.stdout]).toEqual([0, 'Server is healthy.\n']);
    const show = spawnSync(join(SIM_BIN, 'spire-server'), ['bundle', 'show', '-socketPath', server.socket], {
      encoding: 'utf8',
    });
    expect(show.stdout).toBe(readFileSync(server.bundlePath, 'utf8'));
    const addrs = listeningAddresses(server.proc.child.pid as number);
    expect(addrs.sort()).toEqual([`127.0.0.1:${server.healthPort}`, `127.0.0.1:${server.port}`].sort());
  });

  it("refuses unknown keys with SPIRE's message", () => {
    const path = join(box.root, 'bad-server.conf');
    writeFileSync(
      path,
      `server { trust_domain = "example.org" data_dir = "/tmp/x" bogus = 1 }\nplugins {}\n`,
    );
    const res = spawnSync(join(SIM_BIN, 'spire-server'), ['run', '-config', path], { encoding: 'utf8' });
    expect(res.status).toBe(1);
    expect(res.stderr).toBe('unknown configuration detected\n');
    expect(res.stdout).toMatch(/msg="Unknown configuration detected" keys=bogus section=server/);
  });
});

describe('nested spire-server (UpstreamAuthority "spire")', () => {
  const nestedFor = async (name: string, downstream: boolean) => {
    const token = await mintToken(server);
    const upstreamAgent = await startAgent(box.dir(`${name}-upstream-agent`), server, {
      joinToken: token.value,
      env: FAST,
    });
    const nested = await startServer(box.dir(name), {
      env: FAST,
      name,
      upstream: { server, workloadSocket: upstreamAgent.socket },
      waitReady: false,
    });
    const parentId = joinTokenAgentId(server, token.value);
    return {
      nested,
      parentId,
      entry: {
        spiffeId: `spiffe://example.org/ns/${name}`,
        parentId,
        selectors: [`unix:uid:${uid}`],
        downstream,
      },
    };
  };

  it('blocks without an authorised upstream SVID, then serves agents with an intermediate chained to the upstream roots', async () => {
    const { nested, entry } = await nestedFor('nested', true);
    await nested.proc.waitFor(
      /level=error msg="Failed to watch the Workload API: rpc error: code = PermissionDenied desc = no identity issued".*plugin_type=UpstreamAuthority/,
    );
    expect(nested.proc.lines.some((l) => l.includes('Starting Server APIs'))).toBe(false);
    // The health listener starts only once the APIs listen (server.go), so nothing answers yet.
    await expect(fetch(`http://127.0.0.1:${nested.healthPort}/ready`)).rejects.toThrow('fetch failed');

    await createEntries(server, [entry]);
    await nested.proc.waitFor(/msg="Starting Server APIs".*network=unix/);
    await waitForHttp(`http://127.0.0.1:${nested.healthPort}/ready`);

    // A downstream agent trusts the *upstream* roots and still attests: the nested CA chains to them.
    const token = await mintToken(nested);
    const downstream = await startAgent(
      box.dir('downstream-agent'),
      { ...nested, bundlePath: server.bundlePath },
      { joinToken: token.value, env: FAST },
    );
    await createEntries(nested, [
      {
        spiffeId: 'spiffe://example.org/poller',
        parentId: joinTokenAgentId(nested, token.value),
        selectors: [`unix:uid:${uid}`],
      },
    ]);
    let svids = await fetchX509SvidsOnce(downstream.socket).catch(() => []);
    while (svids.length === 0) svids = await fetchX509SvidsOnce(downstream.socket).catch(() => []);
    const [leaf, intermediate] = splitDer(svids[0]?.x509_svid as Buffer);
    const [root] = splitDer(svids[0]?.bundle as Buffer);
    expect(svids[0]?.spiffe_id).toBe('spiffe://example.org/poller');
    expect(await verifySignedBy(leaf as Buffer, intermediate as Buffer)).toBe(true);
    expect(await verifySignedBy(intermediate as Buffer, root as Buffer)).toBe(true);
    expect(root).toEqual(fromPem(readFileSync(server.bundlePath, 'utf8'))[0]);
  });

  it('crashes when its entry is not marked downstream (the upstream refuses to sign its CA)', async () => {
    const { nested, entry } = await nestedFor('nested-not-downstream', false);
    await createEntries(server, [entry]);
    expect((await nested.proc.exited).code).toBe(1);
    const error =
      'rpc error: code = Internal desc = upstreamauthority(spire): unable to request a new Downstream X509CA: rpc error: code = PermissionDenied desc = authorization denied for method /spire.api.server.svid.v1.SVID/NewDownstreamX509CA';
    for (const msg of ['Unable to rotate X509 CA', 'Fatal run error', 'Server crashed']) {
      expect(nested.proc.lines).toContainEqual(expect.stringContaining(`msg="${msg}" error="${error}"`));
    }
  });
});
