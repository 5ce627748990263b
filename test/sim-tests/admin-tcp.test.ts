import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callUnary, services } from '../../src/spire/proto.js';
import { SPIFFE_CHANNEL_OPTIONS, spiffeChannel } from '../sim/common/tls.js';
import { fetchX509SvidsOnce, type WorkloadSvid } from '../sim/common/workload-client.js';
import { splitDer } from '../sim/common/x509.js';
import {
  createEntries,
  joinTokenAgentId,
  mintToken,
  type SimAgent,
  type SimServer,
  startAgent,
  startServer,
} from '../sim/topology.js';
import { sandbox } from './harness.js';

// Admin RPCs on the server's TCP endpoint (pkg/server/api/middleware/authorization_opa.go, default policy in
// pkg/server/authpolicy/policy_data.json): an X509-SVID caller is an admin when an entry for its SPIFFE ID has
// `admin: true`, or when its ID is in `admin_ids`.

const FAST = { SIM_TIME_SCALE: '0.05' };
const uid = process.getuid?.() ?? 0;
const box = sandbox('sim-admin-tcp');
let server: SimServer;
let agent: SimAgent;
let svids: WorkloadSvid[];

const ADMIN_ID = 'spiffe://example.org/ops/admin';
const PLAIN_ID = 'spiffe://example.org/ops/plain';
const CONFIG_ADMIN_ID = 'spiffe://example.org/ops/by-config';
const denied = (method: string) => `authorization denied for method /spire.api.server.${method}`;

beforeAll(async () => {
  server = await startServer(box.dir('server'), {
    env: FAST,
    extraServerHcl: `admin_ids = ["${CONFIG_ADMIN_ID}"]`,
  });
  const token = await mintToken(server);
  agent = await startAgent(box.dir('agent'), server, { joinToken: token.value, env: FAST });
  const parentId = joinTokenAgentId(server, token.value);
  const selectors = [`unix:uid:${uid}`];
  await createEntries(server, [
    { spiffeId: ADMIN_ID, parentId, selectors, admin: true },
    { spiffeId: PLAIN_ID, parentId, selectors },
    { spiffeId: CONFIG_ADMIN_ID, parentId, selectors },
  ]);
  do svids = await fetchX509SvidsOnce(agent.socket).catch(() => []);
  while (svids.length < 3);
});
afterAll(() => box.cleanup());

/** A TCP client of the server that presents `id`'s SVID and verifies the server as spiffe://<td>/spire/server. */
function clients(id: string | undefined) {
  const svid = svids.find((s) => s.spiffe_id === id);
  const creds = spiffeChannel({
    roots: splitDer((svids[0] as WorkloadSvid).bundle),
    expectId: 'spiffe://example.org/spire/server',
    client: svid ? { chain: splitDer(svid.x509_svid), key: svid.x509_svid_key } : undefined,
  });
  const target = `127.0.0.1:${server.port}`;
  return {
    agent: new services.agent(target, creds, SPIFFE_CHANNEL_OPTIONS),
    entry: new services.entry(target, creds, SPIFFE_CHANNEL_OPTIONS),
    bundle: new services.bundle(target, creds, SPIFFE_CHANNEL_OPTIONS),
    close() {
      this.agent.close();
      this.entry.close();
      this.bundle.close();
    },
  };
}

describe('admin RPCs over TCP', () => {
  it('lets an admin workload create a join token and manage entries with its Workload API SVID', async () => {
    const c = clients(ADMIN_ID);
    try {
      const token = await callUnary<{ value: string; expires_at: number }>(c.agent, 'CreateJoinToken', {
        ttl: 60,
      });
      expect(token.value).toMatch(/^[0-9a-f-]{36}$/);
      const listed = await callUnary<{ entries: { spiffe_id: { path: string } }[] }>(
        c.entry,
        'ListEntries',
        {},
      );
      expect(listed.entries.map((e) => e.spiffe_id.path)).toContain('/ops/admin');
      const created = await callUnary<{ results: { status: { code: number } }[] }>(
        c.entry,
        'BatchCreateEntry',
        {
          entries: [
            {
              spiffe_id: { trust_domain: 'example.org', path: '/made/over/tcp' },
              parent_id: { trust_domain: 'example.org', path: '/ops/admin' },
              selectors: [{ type: 'unix', value: 'uid:1' }],
            },
          ],
        },
      );
      expect(created.results[0]?.status.code).toBe(0);
    } finally {
      c.close();
    }
  });

  it('honours admin_ids from the server config', async () => {
    const c = clients(CONFIG_ADMIN_ID);
    try {
      await expect(callUnary(c.agent, 'CreateJoinToken', { ttl: 60 })).resolves.toMatchObject({
        value: expect.any(String),
      });
    } finally {
      c.close();
    }
  });

  it('refuses a non-admin SVID and a caller without one with PermissionDenied, but serves either GetBundle', async () => {
    for (const id of [PLAIN_ID, undefined]) {
      const c = clients(id);
      try {
        await expect(callUnary(c.agent, 'CreateJoinToken', { ttl: 60 })).rejects.toMatchObject({
          code: grpc.status.PERMISSION_DENIED,
          details: denied('agent.v1.Agent/CreateJoinToken'),
        });
        await expect(callUnary(c.entry, 'ListEntries', {})).rejects.toMatchObject({
          code: grpc.status.PERMISSION_DENIED,
          details: denied('entry.v1.Entry/ListEntries'),
        });
        const bundle = await callUnary<{ x509_authorities: unknown[] }>(c.bundle, 'GetBundle', {});
        expect(bundle.x509_authorities).toHaveLength(1);
      } finally {
        c.close();
      }
    }
    const line = server.proc.lines.find(
      (l) => l.includes('msg="Failed to authenticate caller"') && l.includes(PLAIN_ID),
    );
    expect(line).toMatch(/caller_id="spiffe:\/\/example.org\/ops\/plain".*method=CreateJoinToken/);
    expect(line).toContain('service=agent.v1.Agent');
  });

  it('does not take an admin workload for an agent', async () => {
    const c = clients(ADMIN_ID);
    try {
      await expect(callUnary(c.entry, 'GetAuthorizedEntries', {})).rejects.toMatchObject({
        code: grpc.status.PERMISSION_DENIED,
        details: denied('entry.v1.Entry/GetAuthorizedEntries'),
      });
    } finally {
      c.close();
    }
  });
});
