import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { services } from '../../../src/spire/proto.js';
import { fingerprint } from '../../../src/token/fingerprint.js';
import { spireServerSource } from '../../../src/token/source-spire-server.js';
import { rejection } from './rejection.js';

interface CreateJoinTokenRequest {
  ttl: number;
  token: string;
  agent_id: { trust_domain: string; path: string } | null;
}

let dir: string;
let socketPath: string;
let server: grpc.Server;
let requests: CreateJoinTokenRequest[];
let answer: (
  req: CreateJoinTokenRequest,
) => { value: string; expires_at: number } | Partial<grpc.StatusObject>;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'spire-source-'));
  socketPath = join(dir, 'api.sock');
  requests = [];
  server = new grpc.Server();
  server.addService(services.agent.service, {
    CreateJoinToken(
      call: grpc.ServerUnaryCall<CreateJoinTokenRequest, unknown>,
      callback: grpc.sendUnaryData<unknown>,
    ) {
      requests.push(call.request);
      const out = answer(call.request);
      if ('value' in out) callback(null, out);
      else callback(out);
    },
    AttestAgent(call: grpc.ServerDuplexStream<unknown, unknown>) {
      call.end();
    },
  });
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(`unix:${socketPath}`, grpc.ServerCredentials.createInsecure(), (err) =>
      err ? reject(err) : resolve(),
    ),
  );
});

afterEach(async () => {
  await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
  await rm(dir, { recursive: true, force: true });
});

describe('spire-server source', () => {
  it('calls Agent.CreateJoinToken over the admin socket and maps the token', async () => {
    answer = (req) => ({ value: 'c0ffee-token', expires_at: 1_900_000_000 + req.ttl });
    const source = spireServerSource({
      socketPath,
      ttlSeconds: 600,
      agentId: 'spiffe://carverauto.dev/ns/edge/poller-1',
      trustDomain: 'carverauto.dev',
    });
    expect(await source.acquire()).toEqual({
      token: 'c0ffee-token',
      source: 'spire-server',
      fingerprint: fingerprint('c0ffee-token'),
      expiresAt: new Date((1_900_000_000 + 600) * 1000),
      parentId: 'spiffe://carverauto.dev/spire/agent/join_token/c0ffee-token',
    });
    expect(requests).toEqual([
      { ttl: 600, token: '', agent_id: { trust_domain: 'carverauto.dev', path: '/ns/edge/poller-1' } },
    ]);
  });

  it('sends no agent_id when none is configured', async () => {
    answer = () => ({ value: 'tok', expires_at: 1_900_000_000 });
    const got = await spireServerSource({ socketPath, ttlSeconds: 60 }).acquire();
    expect(got?.parentId).toBeUndefined();
    expect(requests[0]?.agent_id).toBeNull();
  });

  it('classifies a refusal from the server as a slow retry', async () => {
    answer = () => ({ code: grpc.status.INVALID_ARGUMENT, details: 'ttl is required, you must provide one' });
    const err = await rejection(spireServerSource({ socketPath, ttlSeconds: 60 }).acquire());
    expect(err.message).toBe(
      `the SPIRE server admin socket ${socketPath} failed CreateJoinToken (INVALID_ARGUMENT: ttl is required, you must provide one)`,
    );
    expect(err).toMatchObject({ code: 'bad-request', retry: 'slow', source: 'spire-server', status: 3 });
  });

  it('rejects an unusable token from the server', async () => {
    answer = () => ({ value: 'two words', expires_at: 1_900_000_000 });
    await expect(spireServerSource({ socketPath, ttlSeconds: 60 }).acquire()).rejects.toThrow(
      `join token from the SPIRE server admin socket ${socketPath} contains whitespace`,
    );
  });

  it('reports a missing socket as unavailable, to retry with backoff', async () => {
    const missing = join(dir, 'nope.sock');
    const err = await rejection(
      spireServerSource({ socketPath: missing, ttlSeconds: 60, timeoutMs: 5000 }).acquire(),
    );
    expect(err).toMatchObject({ code: 'unavailable', retry: 'backoff', source: 'spire-server', status: 14 });
    expect(err.message).toMatch(
      new RegExp(`^the SPIRE server admin socket ${missing} failed CreateJoinToken \\(UNAVAILABLE: `),
    );
  });

  it('rejects bad options with every problem listed', () => {
    expect(() =>
      spireServerSource({ socketPath: '', ttlSeconds: 0, agentId: 'spiffe://carverauto.dev/spire/agent/x' }),
    ).toThrow(
      'SPIRE server token source options are invalid:\n' +
        '  socketPath: expected the SPIRE server admin socket path, got ""\n' +
        '  ttlSeconds: expected a positive integer (seconds), got 0\n' +
        '  agentId: expected a path outside /spire (reserved by SPIRE), got "spiffe://carverauto.dev/spire/agent/x"',
    );
    expect(() =>
      spireServerSource({
        socketPath,
        ttlSeconds: 60,
        agentId: 'spiffe://other.org/x',
        trustDomain: 'carverauto.dev',
      }),
    ).toThrow('agentId: expected a SPIFFE ID in trust domain "carverauto.dev", got "spiffe://other.org/x"');
  });
});
