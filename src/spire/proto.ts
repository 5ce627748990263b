import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

/** Folder holding our own wire-compatible .proto files (beside src/ when run from source, or from dist/). */
export const PROTO_DIR = ['../../proto/', '../../../proto/']
  .map((rel) => fileURLToPath(new URL(rel, import.meta.url)))
  .find((dir) => existsSync(`${dir}spire`)) as string;

const FILES = [
  'spire/api/server/agent/v1/agent.proto',
  'spire/api/server/entry/v1/entry.proto',
  'spire/api/server/svid/v1/svid.proto',
  'spire/api/server/bundle/v1/bundle.proto',
  'spiffe/workload/workload.proto',
  'grpc/health/v1/health.proto',
];

// keepCase keeps SPIRE's snake_case field names; int64 becomes a JS number (unix seconds fit easily).
export const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: Number,
  enums: String,
  bytes: Buffer,
  defaults: true,
  oneofs: true,
  includeDirs: [PROTO_DIR],
};

let cached: grpc.GrpcObject | undefined;

/** Loads every service this project speaks, once per process. */
export function loadProtos(): grpc.GrpcObject {
  cached ??= grpc.loadPackageDefinition(protoLoader.loadSync(FILES, LOADER_OPTIONS));
  return cached;
}

function lookup(path: string): grpc.ServiceClientConstructor {
  let node: unknown = loadProtos();
  for (const part of path.split('.')) node = (node as Record<string, unknown>)[part];
  if (typeof node !== 'function') throw new Error(`service ${path} missing from protos`);
  return node as grpc.ServiceClientConstructor;
}

/** Client constructors (and `.service` definitions for servers) of the services. */
export const services = {
  get agent() {
    return lookup('spire.api.server.agent.v1.Agent');
  },
  get entry() {
    return lookup('spire.api.server.entry.v1.Entry');
  },
  get bundle() {
    return lookup('spire.api.server.bundle.v1.Bundle');
  },
  get svid() {
    return lookup('spire.api.server.svid.v1.SVID');
  },
  get workload() {
    return lookup('SpiffeWorkloadAPI');
  },
  get health() {
    return lookup('grpc.health.v1.Health');
  },
};

/** Calls a unary method by name and resolves with its response (grpc-js clients are untyped here). */
export function callUnary<Res>(
  client: grpc.Client,
  method: string,
  request: object,
  options: { metadata?: grpc.Metadata; deadline?: Date; signal?: AbortSignal } = {},
): Promise<Res> {
  const fn = (client as unknown as Record<string, unknown>)[method];
  if (typeof fn !== 'function') throw new Error(`no method ${method} on this client`);
  return new Promise((resolve, reject) => {
    const call = fn.call(
      client,
      request,
      options.metadata ?? new grpc.Metadata(),
      { deadline: options.deadline },
      (err: grpc.ServiceError | null, res: Res) => (err ? reject(err) : resolve(res)),
    ) as grpc.ClientUnaryCall;
    options.signal?.addEventListener('abort', () => call.cancel(), { once: true });
  });
}
