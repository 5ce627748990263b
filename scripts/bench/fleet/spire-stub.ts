// The cluster SPIRE server behind the admin API or the broker, reduced to the calls they make (Agent.CreateJoinToken,
// Entry.BatchCreateEntry; for the broker also Entry.ListEntries, Agent.GetAgent and grpc.health.v1 Check) kept in
// memory. The simulated SPIRE server persists its whole datastore with an fsync on
// every write and manages some 35 mints a second (measured here), so it, not the throttle under test, would set
// the pace; this stub answers at once and counts the tokens minted for each poller's downstream SPIFFE ID.
import { randomUUID } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { services } from '../../../src/spire/proto.js';

interface SpiffeIdMsg {
  trust_domain: string;
  path: string;
}

export interface SpireStub {
  /** Tokens minted per downstream SPIFFE ID (one downstream entry is created with each). */
  readonly minted: Map<string, number>;
  readonly tokens: () => number;
  close(): Promise<void>;
}

export async function startSpireStub(socket: string): Promise<SpireStub> {
  const minted = new Map<string, number>();
  let tokens = 0;
  const server = new grpc.Server();
  server.addService(services.agent.service, {
    CreateJoinToken: (
      call: grpc.ServerUnaryCall<{ ttl: number }, unknown>,
      cb: grpc.sendUnaryData<unknown>,
    ) => {
      tokens++;
      cb(null, { value: randomUUID(), expires_at: Math.floor(Date.now() / 1000) + call.request.ttl });
    },
    // No agent ever attests here.
    GetAgent: (_call: unknown, cb: grpc.sendUnaryData<unknown>) =>
      cb({ code: grpc.status.NOT_FOUND, details: 'agent not found' }),
  });
  server.addService(services.entry.service, {
    BatchCreateEntry: (
      call: grpc.ServerUnaryCall<{ entries: { spiffe_id: SpiffeIdMsg }[] }, unknown>,
      cb: grpc.sendUnaryData<unknown>,
    ) => {
      const results = call.request.entries.map((entry) => {
        const id = `spiffe://${entry.spiffe_id.trust_domain}${entry.spiffe_id.path}`;
        minted.set(id, (minted.get(id) ?? 0) + 1);
        return { status: { code: 0, message: 'OK' }, entry: { ...entry, id: randomUUID() } };
      });
      cb(null, { results });
    },
    ListEntries: (_call: unknown, cb: grpc.sendUnaryData<unknown>) =>
      cb(null, { entries: [], next_page_token: '' }),
  });
  server.addService(services.health.service, {
    Check: (_call: unknown, cb: grpc.sendUnaryData<unknown>) => cb(null, { status: 'SERVING' }),
  });
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(`unix:${socket}`, grpc.ServerCredentials.createInsecure(), (err) =>
      err ? reject(err) : resolve(),
    ),
  );
  return {
    minted,
    tokens: () => tokens,
    close: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())),
  };
}
