import * as grpc from '@grpc/grpc-js';
import { services } from '../../../src/spire/proto.js';

// The two calls core's pkg/spireadmin client makes to the cluster SPIRE server, here over its admin unix socket.

export interface SpiffeIdProto {
  trust_domain: string;
  path: string;
}

export interface EntryProto {
  spiffe_id: SpiffeIdProto;
  parent_id: SpiffeIdProto;
  selectors: { type: string; value: string }[];
  x509_svid_ttl: number;
  jwt_svid_ttl: number;
  admin: boolean;
  store_svid: boolean;
  dns_names: string[];
  federates_with: string[];
  downstream: boolean;
}

export interface EntryResult {
  status: { code: number; message: string } | null;
  entry: { id: string } | null;
}

const DEADLINE_MS = 10_000;

/** Go's rendering of a gRPC status error (`rpc error: code = Unavailable desc = …`), which core passes on. */
export function goRpcError(err: grpc.ServiceError): string {
  const name = grpc.status[err.code] ?? 'Unknown';
  const camel =
    name === 'CANCELLED'
      ? 'Canceled'
      : name
          .toLowerCase()
          .split('_')
          .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
          .join('');
  return `rpc error: code = ${camel} desc = ${err.details}`;
}

function unary<Req, Res>(ctor: grpc.ServiceClientConstructor, method: string, socket: string, req: Req) {
  const client = new ctor(`unix:${socket}`, grpc.credentials.createInsecure());
  return new Promise<Res>((resolve, reject) => {
    const call = (
      client as unknown as Record<string, grpc.requestCallback<Res> | ((...a: unknown[]) => void)>
    )[method] as (r: Req, m: grpc.Metadata, o: grpc.CallOptions, cb: grpc.requestCallback<Res>) => void;
    call.call(client, req, new grpc.Metadata(), { deadline: Date.now() + DEADLINE_MS }, (err, res) => {
      client.close();
      if (err) reject(err);
      else resolve(res as Res);
    });
  });
}

/** Agent.CreateJoinToken; rejects with the grpc-js ServiceError. */
export function createJoinToken(
  socket: string,
  ttl: number,
  agentId: SpiffeIdProto | undefined,
): Promise<{ value: string; expires_at: number }> {
  return unary(services.agent, 'CreateJoinToken', socket, { ttl, agent_id: agentId ?? null });
}

/** Entry.BatchCreateEntry with one entry; returns its per-entry result. */
export async function createEntry(socket: string, entry: EntryProto): Promise<EntryResult | undefined> {
  const res = await unary<unknown, { results: EntryResult[] }>(services.entry, 'BatchCreateEntry', socket, {
    entries: [entry],
  });
  return res.results[0];
}
