// Direct mode: the daemon mints its upstream token on the cluster server's admin socket and registers the nested
// server's downstream entry itself, marked as its own; its earlier entries whose token expired unused are pruned,
// and nobody else's entry is touched.
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { downstreamEntry } from '../../src/spire/downstream-entry.js';
import { serverClient } from '../../src/spire/server-client.js';
import { createEntries, joinTokenAgentId, mintToken, startServer } from '../sim/topology.js';
import { sandbox } from '../sim-tests/harness.js';
import { makeEnv, startDaemon, waitReady } from './harness.js';

const box = sandbox('e2e-direct-mode');
afterAll(() => box.cleanup());

describe('direct mode (token source spire-server)', () => {
  it('registers the downstream entry marked as its own and prunes only its own stale ones', async () => {
    const cluster = await startServer(join(box.dir('direct'), 'cluster'), {
      env: { SIM_TIME_SCALE: '0.05' },
    });
    const downstreamId = `spiffe://${cluster.trustDomain}/ns/edge/poller-nested-spire`;
    // Left by an earlier run: a token that expired two minutes ago unused, its entry marked by the daemon …
    const lost = await mintToken(cluster, 1);
    const client = serverClient(cluster.socket);
    const spec = { spiffeId: downstreamId, selectors: ['unix:uid:0'] };
    const stale = await client.createEntry(
      downstreamEntry(
        spec,
        joinTokenAgentId(cluster, lost.value),
        'poller-bootstrap daemon',
        new Date(Date.now() - 120_000),
      ),
    );
    // … and an operator's entry for the same ID, which is not the daemon's to delete.
    const [operator] = await createEntries(cluster, [
      {
        spiffeId: downstreamId,
        parentId: joinTokenAgentId(cluster, 'operator'),
        selectors: ['unix:uid:0'],
        downstream: true,
      },
    ]);
    const env = await makeEnv(
      box.dir('direct'),
      (c) => {
        c.token = { sources: ['spire-server'], file: join(box.dir('direct'), 'run', 'upstream-join-token') };
        c.spire_server = { socket_path: cluster.socket };
        delete c.admin_api;
      },
      {},
      { cluster },
    );
    const daemon = startDaemon(env);
    await waitReady(env, daemon);
    const entries = await client.entriesFor(downstreamId);
    client.close();
    const ids = entries.map((e) => e.id);
    expect(ids).not.toContain(stale.id);
    expect(ids).toContain(operator?.id);
    const own = entries.filter((e) => e.hint.startsWith('poller-bootstrap daemon exp='));
    expect(own).toHaveLength(1);
    expect(own[0]?.downstream).toBe(true);
    expect(
      daemon.lines.some((l) => l.includes('pruned stale downstream entries on the cluster server')),
    ).toBe(true);
    await daemon.stop();
  });
});
