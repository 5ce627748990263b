import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fetchX509SvidsOnce } from '../sim/common/workload-client.js';
import { fromPem } from '../sim/common/x509.js';
import { freePort } from '../sim/launch.js';
import {
  createEntries,
  joinTokenAgentId,
  mintToken,
  restartServer,
  type SimAgent,
  startAgent,
  startServer,
} from '../sim/topology.js';
import { sandbox } from './harness.js';

// The server keeps its X.509 CA across restarts (pkg/server/ca/manager: CA journal + KeyManager keys).

const FAST = { SIM_TIME_SCALE: '0.05' };
const uid = process.getuid?.() ?? 0;
const box = sandbox('sim-ca');
afterAll(() => box.cleanup());

/** Polls the agent's Workload API until `id` is among the SVIDs it serves. */
async function waitForSvid(agent: SimAgent, id: string): Promise<string[]> {
  for (;;) {
    const ids = await fetchX509SvidsOnce(agent.socket).then(
      (s) => s.map((x) => x.spiffe_id),
      () => [] as string[],
    );
    if (ids.includes(id)) return ids;
  }
}

const linesOf = (lines: string[], msg: string) => lines.filter((l) => l.includes(`msg="${msg}"`));
const field = (line: string | undefined, key: string) => new RegExp(`${key}=(\\S+)`).exec(line ?? '')?.[1];
const bundle = (path: string) => readFileSync(path, 'utf8');

describe('CA persistence across restarts', () => {
  it('a restarted nested server reuses its CA: the downstream agent keeps syncing and serving; so does a restarted cluster server', async () => {
    const controlPort = await freePort();
    const cluster = await startServer(box.dir('cluster'), {
      env: { ...FAST, SIM_CONTROL_PORT: String(controlPort) },
    });
    const upToken = await mintToken(cluster);
    const upstreamAgent = await startAgent(box.dir('upstream-agent'), cluster, {
      joinToken: upToken.value,
      env: FAST,
    });
    const upAgentId = joinTokenAgentId(cluster, upToken.value);
    await createEntries(cluster, [
      {
        spiffeId: 'spiffe://example.org/nested',
        parentId: upAgentId,
        selectors: [`unix:uid:${uid}`],
        downstream: true,
      },
    ]);
    let nested = await startServer(box.dir('nested'), {
      env: FAST,
      name: 'nested-server',
      upstream: { server: cluster, workloadSocket: upstreamAgent.socket },
    });
    const firstCa = field(linesOf(nested.proc.lines, 'X509 CA activated')[0], 'local_authority_id');
    const downToken = await mintToken(nested);
    const downstream = await startAgent(
      box.dir('downstream-agent'),
      { ...nested, bundlePath: cluster.bundlePath },
      { joinToken: downToken.value, env: FAST },
    );
    const downId = joinTokenAgentId(nested, downToken.value);
    await createEntries(nested, [
      { spiffeId: 'spiffe://example.org/poller', parentId: downId, selectors: [`unix:uid:${uid}`] },
    ]);
    await waitForSvid(downstream, 'spiffe://example.org/poller');

    nested = await restartServer(nested, { env: FAST, name: 'nested-server' });
    // The journal's active CA is reloaded and activated; nothing is prepared, upstream is not asked again.
    expect(linesOf(nested.proc.lines, 'Journal loaded')[0]).toContain('x509_cas=1');
    expect(linesOf(nested.proc.lines, 'X509 CA prepared')).toEqual([]);
    expect(field(linesOf(nested.proc.lines, 'X509 CA activated')[0], 'local_authority_id')).toBe(firstCa);
    const stats = (await (await fetch(`http://127.0.0.1:${controlPort}/stats`)).json()) as Record<
      string,
      number
    >;
    expect(stats.new_downstream_x509_ca).toBe(1);

    // A new entry reaches the downstream agent only through a successful sync with the restarted server.
    await createEntries(nested, [
      { spiffeId: 'spiffe://example.org/after-restart', parentId: downId, selectors: [`unix:uid:${uid}`] },
    ]);
    expect((await waitForSvid(downstream, 'spiffe://example.org/after-restart')).sort()).toEqual([
      'spiffe://example.org/after-restart',
      'spiffe://example.org/poller',
    ]);
    expect(downstream.proc.child.exitCode).toBeNull();

    const roots = bundle(cluster.bundlePath);
    const restartedCluster = await restartServer(cluster, { env: FAST });
    expect(linesOf(restartedCluster.proc.lines, 'X509 CA prepared')).toEqual([]);
    expect(bundle(cluster.bundlePath)).toBe(roots);
    await createEntries(restartedCluster, [
      {
        spiffeId: 'spiffe://example.org/upstream-workload',
        parentId: upAgentId,
        selectors: [`unix:uid:${uid}`],
      },
    ]);
    await waitForSvid(upstreamAgent, 'spiffe://example.org/upstream-workload');
  });

  it('with KeyManager "memory" prepares a new CA each start and keeps the old root in the bundle, so an agent holding only the old root stops', async () => {
    const server = await startServer(box.dir('memory-server'), { env: FAST, keyManager: 'memory' });
    const token = await mintToken(server);
    const agent = await startAgent(box.dir('memory-agent'), server, { joinToken: token.value, env: FAST });
    const before = fromPem(bundle(server.bundlePath));

    const again = await restartServer(server, { env: FAST });
    expect(linesOf(again.proc.lines, 'X509 CA prepared')).toHaveLength(1);
    const after = fromPem(bundle(server.bundlePath));
    expect(after).toHaveLength(2);
    expect(after[0]).toEqual(before[0]);

    // The agent's cached bundle lacks the new root, so the server's new SVID fails verification on sync.
    expect((await agent.proc.exited).code).toBe(1);
    const error =
      'failed to sync with SPIRE Server: failed to fetch authorized entries: rpc error: code = Unavailable desc = connection error: desc = \\"transport: authentication handshake failed: x509svid: could not verify leaf certificate: x509: certificate signed by unknown authority\\"';
    expect(agent.proc.lines).toContainEqual(
      expect.stringContaining('msg="Synchronize failed, non-recoverable error"'),
    );
    expect(agent.proc.lines).toContainEqual(expect.stringContaining(`msg="Agent crashed" error="${error}"`));
  });

  // The thresholds count from the journal's issued_at (slot.go preparationThreshold/keyActivationThreshold):
  // a 24 h CA recorded as issued 4 days before expiry is past half its 4-day life; one recorded 7 days before
  // expiry is past five sixths. Rewriting issued_at in the datastore stands in for a server that was down that long.
  it.each([
    ['past half its lifetime: keeps it active and prepares the next slot', 4, ['A'], ['B']],
    ['past five sixths: prepares the next slot and activates it at once', 7, ['B'], ['B']],
  ])('a persisted CA %s', async (_name, days, activatedSlots, preparedSlots) => {
    const dir = box.dir('aged-ca');
    const first = await startServer(dir, { env: FAST });
    await first.proc.stop();
    const dsPath = join(dir, 'data', 'datastore.sqlite3');
    const ds = JSON.parse(readFileSync(dsPath, 'utf8')) as {
      caJournal: { issuedAt: number; notAfter: number }[];
    };
    for (const entry of ds.caJournal) entry.issuedAt = entry.notAfter - days * 24 * 3600;
    writeFileSync(dsPath, JSON.stringify(ds));

    const again = await restartServer(first, { env: FAST });
    expect(linesOf(again.proc.lines, 'X509 CA activated').map((l) => field(l, 'slot'))).toEqual(
      activatedSlots,
    );
    expect(linesOf(again.proc.lines, 'X509 CA prepared').map((l) => field(l, 'slot'))).toEqual(preparedSlots);
    // A prepared CA's root joins the bundle at once, so agents learn it before it signs anything.
    expect(fromPem(bundle(join(dir, 'data', 'bundle.pem')))).toHaveLength(2);
  });
});
