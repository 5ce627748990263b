import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callUnary, services } from '../../src/spire/proto.js';
import { fetchX509SvidsOnce } from '../sim/common/workload-client.js';
import { freePort } from '../sim/launch.js';
import {
  joinTokenAgentId,
  type SimAdmin,
  type SimServer,
  startAdmin,
  startAgent,
  startServer,
} from '../sim/topology.js';
import { sandbox } from './harness.js';

const FAST = { SIM_TIME_SCALE: '0.05' };
const uid = process.getuid?.() ?? 0;
const box = sandbox('sim-admin');
let server: SimServer;
let admin: SimAdmin;

beforeAll(async () => {
  server = await startServer(box.dir('cluster'), { env: FAST });
  admin = await startAdmin(box.dir('core'), server, {
    users: [{ username: 'ops', password: 'pw-not-a-secret-in-tests', roles: ['admin'] }],
  });
});
afterAll(() => box.cleanup());

const login = async () => {
  const res = await fetch(`${admin.url}/auth/login`, {
    method: 'POST',
    body: JSON.stringify({ username: 'ops', password: 'pw-not-a-secret-in-tests' }),
  });
  return ((await res.json()) as { access_token: string }).access_token;
};

describe('admin API simulator in front of the simulated cluster server', () => {
  it('mints a real token and registers the downstream entry that authorises the nested server', async () => {
    const res = await fetch(`${admin.url}/api/admin/spire/join-tokens`, {
      method: 'POST',
      headers: { authorization: `Bearer ${await login()}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        ttl_seconds: 300,
        register_downstream: true,
        downstream: {
          spiffe_id: 'spiffe://example.org/ns/edge/nested',
          selectors: [`unix:uid:${uid}`],
          x509_svid_ttl_seconds: 600,
        },
      }),
    });
    expect(res.status).toBe(201);
    const body = (await res.json()) as {
      token: string;
      parent_spiffe_id: string;
      downstream_entry_id: string;
      expires_at: string;
    };
    expect(body.parent_spiffe_id).toBe(joinTokenAgentId(server, body.token));
    expect(Date.parse(body.expires_at) - Date.now()).toBeGreaterThan(250_000);

    const agent = await startAgent(box.dir('agent'), server, { joinToken: body.token, env: FAST });
    let ids: string[] = [];
    while (ids.length === 0)
      ids = await fetchX509SvidsOnce(agent.socket).then(
        (s) => s.map((x) => x.spiffe_id),
        () => [],
      );
    expect(ids).toEqual(['spiffe://example.org/ns/edge/nested']);

    const stats = (await (await fetch(`${admin.url}/_sim/stats`)).json()) as Record<string, number>;
    expect(stats.join_tokens_requested).toBe(1);
    expect(stats.join_tokens_issued).toBe(1);
    expect(admin.proc.lines.join('\n')).not.toContain(body.token);
    expect(admin.proc.lines.join('\n')).not.toContain('pw-not-a-secret-in-tests');
  });

  it('applies fault knobs on the SPIRE server through its control endpoint', async () => {
    const control = await freePort();
    const faulty = await startServer(box.dir('faulty'), {
      env: { ...FAST, SIM_CONTROL_PORT: String(control) },
    });
    const entry = new services.entry(`unix:${faulty.socket}`, grpc.credentials.createInsecure());
    const set = await fetch(`http://127.0.0.1:${control}/faults`, {
      method: 'POST',
      body: JSON.stringify({
        failNext: 1,
        failStatus: grpc.status.UNAVAILABLE,
        failMessage: 'datastore is down',
      }),
    });
    expect(set.status).toBe(200);
    await expect(callUnary(entry, 'ListEntries', {})).rejects.toMatchObject({
      code: grpc.status.UNAVAILABLE,
      details: 'datastore is down',
    });
    await expect(callUnary(entry, 'ListEntries', {})).resolves.toMatchObject({ entries: [] });
    const stats = (await (await fetch(`http://127.0.0.1:${control}/stats`)).json()) as Record<string, number>;
    expect(stats.list_entries).toBe(2);
    const bad = await fetch(`http://127.0.0.1:${control}/faults`, {
      method: 'POST',
      body: JSON.stringify({ nope: 1 }),
    });
    expect(bad.status).toBe(400);
    entry.close();
  });

  it('crashes on schedule with crashAfterSeconds', async () => {
    const doomed = await startServer(box.dir('doomed'), {
      env: { ...FAST, SIM_FAULTS: JSON.stringify({ crashAfterSeconds: 1 }) },
    });
    expect((await doomed.proc.exited).code).toBe(2);
  });
});
