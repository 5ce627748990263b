// A broker stopped (SIGTERM: a restart, an upgrade) while a request is in flight still answers it: that request
// may have minted already, and a token minted but never handed out is one SPIRE cannot revoke.
import { connect } from 'node:net';
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

  it('closes a kept-alive connection after its answer and serves nothing sent on it once stopping', async () => {
    const cluster = await startClusterServer(box.dir('cluster-keepalive'));
    const broker = await startBroker(box.dir('broker-keepalive'), { server: cluster });
    await fetch(`http://127.0.0.1:${cluster.controlPort}/faults`, {
      method: 'POST',
      body: JSON.stringify({ latencyMs: 1500 }),
    });
    // One connection, as a pooling client or a load balancer keeps it: a mint in flight, then another request.
    const { hostname, port } = new URL(broker.url);
    const socket = connect(Number(port), hostname);
    let received = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      received += chunk;
    });
    socket.on('error', () => {});
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    const body = JSON.stringify(downstreamRequest('example.org', 'site-2'));
    socket.write(
      `POST /api/admin/spire/join-tokens HTTP/1.1\r\nHost: broker\r\nContent-Type: application/json\r\n` +
        `X-API-Key: ${API_KEYS['admin-key']}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
    while ((await broker.tokensMinted()) === 0) await new Promise((r) => setTimeout(r, 20));
    broker.proc.child.kill('SIGTERM');
    await broker.proc.waitFor(/"msg":"stopping"/);
    socket.write('GET /healthz HTTP/1.1\r\nHost: broker\r\n\r\n');
    await closed;
    const answers = received.match(/^HTTP\/1\.1 \d{3}/gm) ?? [];
    expect(answers[0]).toBe('HTTP/1.1 201');
    expect(received).toMatch(/^connection: close\r$/im);
    // The second request either never ran or was told the broker is stopping; it was not served.
    expect(answers.slice(1).every((a) => a === 'HTTP/1.1 503')).toBe(true);
    expect((await broker.proc.exited).code).toBe(0);
  });
});
