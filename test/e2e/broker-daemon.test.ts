// The real daemon enrols through the real broker (HTTPS, its own CA) into the simulated cluster server, with the
// login flow and with an API key, and exactly one token is minted; a poller whose token expired unused leaves a
// stale entry that prune_stale removes when the next poller with that downstream ID enrols — and nothing else.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Agent, fetch as undiciFetch } from 'undici';
import { afterAll, describe, expect, it } from 'vitest';
import { serverClient } from '../../src/spire/server-client.js';
import { createEntries } from '../sim/topology.js';
import { sandbox } from '../sim-tests/harness.js';
import { API_KEYS, BROKER_PASSWORD, type Broker, startBroker, startClusterServer } from './broker-harness.js';
import { leakScan, makeEnv, startDaemon, waitReady } from './harness.js';
import { expectNoSecrets, usedToken } from './secrets.js';

const box = sandbox('e2e-broker-daemon');
afterAll(() => box.cleanup());

type Auth = 'login' | 'api-key';

/** A daemon config whose admin_api is the broker, authenticating with `auth`. */
async function pollerEnv(dir: string, broker: Broker, auth: Auth) {
  const secretFile = join(dir, auth === 'login' ? 'broker-password' : 'broker-api-key');
  return makeEnv(
    dir,
    (c) => {
      writeFileSync(secretFile, auth === 'login' ? BROKER_PASSWORD : API_KEYS['admin-key'], { mode: 0o600 });
      c.admin_api = {
        url: broker.url,
        ca_file: broker.caFile,
        ...(auth === 'login'
          ? { username: 'edge-bootstrap', password_file: secretFile }
          : { api_key_file: secretFile }),
      };
    },
    {},
    { cluster: broker.server },
  );
}

/** POSTs to the HTTPS broker, trusting its own certificate. */
async function postTls(broker: Broker, body: unknown): Promise<Record<string, string>> {
  const dispatcher = new Agent({ connect: { ca: readFileSync(broker.caFile as string, 'utf8') } });
  try {
    const res = await undiciFetch(`${broker.url}/api/admin/spire/join-tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': API_KEYS['admin-key'] },
      body: JSON.stringify(body),
      dispatcher,
    });
    expect(res.status).toBe(201);
    return (await res.json()) as Record<string, string>;
  } finally {
    await dispatcher.close();
  }
}

describe.each<Auth>(['login', 'api-key'])('a poller enrols through the broker (%s)', (auth) => {
  it('reaches ready with exactly one token minted, audited by fingerprint, leaked nowhere', async () => {
    const dir = box.dir(`enrol-${auth}`);
    const broker = await startBroker(join(dir, 'broker'), { https: true });
    const env = await pollerEnv(dir, broker, auth);
    const daemon = startDaemon(env);
    await waitReady(env, daemon);
    expect(await broker.tokensMinted()).toBe(1);
    const token = usedToken(env.config.state_dir as string);
    expect(token).toBeDefined();
    const issued = broker.audit().filter((a) => a.event === 'token-issued');
    expect(issued).toHaveLength(1);
    expect(issued[0]).toMatchObject({
      caller: auth === 'login' ? 'edge-bootstrap' : 'admin-key',
      auth_method: auth === 'login' ? 'bearer' : 'api-key',
      downstream_spiffe_id: `spiffe://${env.server.trustDomain}/ns/edge/poller-nested-spire`,
      ttl_seconds: 900,
    });
    const secrets = [token, auth === 'login' ? BROKER_PASSWORD : API_KEYS['admin-key']];
    await expectNoSecrets(leakScan(env, daemon), secrets);
    for (const secret of secrets) {
      expect(broker.proc.lines.join('\n').includes(secret as string), 'secret in the broker log').toBe(false);
      expect(JSON.stringify(broker.audit()).includes(secret as string), 'secret in the broker audit').toBe(
        false,
      );
    }
    await daemon.stop();
  });
});

describe('prune_stale', () => {
  it('a second poller with the same downstream ID gets its own entry; only the stale one is deleted', async () => {
    const dir = box.dir('prune');
    const cluster = await startClusterServer(dir);
    const broker = await startBroker(join(dir, 'broker'), {
      https: true,
      server: cluster,
      config: { spire: { socket_path: cluster.server.socket, prune_stale: true, prune_grace_seconds: 0 } },
    });
    const td = cluster.server.trustDomain;
    const downstreamId = `spiffe://${td}/ns/edge/poller-nested-spire`;
    const request = (ttl: number) => ({
      ttl_seconds: ttl,
      register_downstream: true,
      downstream: { spiffe_id: downstreamId, selectors: ['unix:uid:0'] },
    });
    // The first poller got a token and its entry, then never started: the token expires unused.
    const stale = await postTls(broker, request(1));
    // Another poller's token, still valid, and an entry the operator made by hand: neither is stale.
    const fresh = await postTls(broker, request(600));
    const [operator] = await createEntries(cluster.server, [
      {
        spiffeId: downstreamId,
        parentId: `spiffe://${td}/spire/agent/x509pop/operator-host`,
        selectors: ['unix:uid:0'],
        downstream: true,
      },
    ]);
    // Waiting for a known instant, SPIRE's own expiry of the first token (not a guess at a duration).
    const expiredAt = Date.parse(stale.expires_at as string) + 1000;
    while (Date.now() <= expiredAt) await new Promise((r) => setTimeout(r, expiredAt - Date.now() + 10));

    const env = await pollerEnv(join(dir, 'poller-2'), broker, 'api-key');
    const daemon = startDaemon(env);
    await waitReady(env, daemon);
    const client = serverClient(cluster.server.socket);
    try {
      const ids = (await client.entriesFor(downstreamId)).map((e) => e.id).sort();
      const second = broker
        .audit()
        .filter((a) => a.event === 'token-issued')
        .at(-1)?.entry_id as string;
      expect(ids).toEqual([fresh.downstream_entry_id, operator?.id, second].sort());
      expect(ids).not.toContain(stale.downstream_entry_id);
    } finally {
      client.close();
    }
    const pruned = broker.audit().filter((a) => a.event === 'entry-pruned');
    expect(pruned).toHaveLength(1);
    expect(pruned[0]).toMatchObject({
      entry_id: stale.downstream_entry_id,
      downstream_spiffe_id: downstreamId,
    });
    expect(pruned[0]?.parent_id).toMatch(/\/spire\/agent\/join_token\/[0-9a-f]{12}…$/);
    const metrics = await (
      await undiciFetch(`${broker.url}/metrics`, {
        dispatcher: new Agent({
          connect: { ca: readFileSync(broker.caFile as string, 'utf8') },
        }),
      })
    ).text();
    expect(metrics).toContain('poller_bootstrap_broker_entries_pruned_total 1');
    await daemon.stop();
  });
});
