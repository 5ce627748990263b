// A broker stopped (SIGTERM: a restart, an upgrade) while a request is in flight still answers it: that request
// may have minted already, and a token minted but never handed out is one SPIRE cannot revoke.
import { afterAll, describe, expect, it } from 'vitest';
import { sandbox } from '../sim-tests/harness.js';
import { API_KEYS, downstreamRequest, post, startBroker, startClusterServer } from './broker-harness.js';

const box = sandbox('e2e-broker-stop');
afterAll(() => box.cleanup());

describe('broker stop', () => {
  it('answers the request in flight before it exits 0', async () => {
    const cluster = await startClusterServer(box.dir('cluster'));
    const broker = await startBroker(box.dir('broker'), { server: cluster });
    // The entry is created after the token is minted; the cluster server now takes 1.5 s over it.
    await fetch(`http://127.0.0.1:${cluster.controlPort}/faults`, {
      method: 'POST',
      body: JSON.stringify({ latencyMs: 1500 }),
    });
    const pending = post(broker, '/api/admin/spire/join-tokens', downstreamRequest('example.org', 'site-1'), {
      'x-api-key': API_KEYS['admin-key'],
    });
    while ((await broker.tokensMinted()) === 0) await new Promise((r) => setTimeout(r, 20));
    broker.proc.child.kill('SIGTERM');
    const res = await pending;
    expect(res.status).toBe(201);
    expect(typeof res.json.token).toBe('string');
    expect((await broker.proc.exited).code).toBe(0);
  });
});
