import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

/** The protos as protobuf.js JSON, embedded by the bundler (scripts/package/protos.ts); absent when run from source. */
type ProtoJson = Parameters<typeof protoLoader.fromJSON>[0];
declare const POLLER_BOOTSTRAP_PROTOS: ProtoJson | undefined;
const EMBEDDED = typeof POLLER_BOOTSTRAP_PROTOS === 'undefined' ? null : POLLER_BOOTSTRAP_PROTOS;

// The bundle has no import.meta.url and needs no folder: it is only looked up when loading from files.
function findProtoDir(): string {
  return ['../../proto/', '../../../proto/']
    .map((rel) => fileURLToPath(new URL(rel, import.meta.url)))
    .find((dir) => existsSync(`${dir}spire`)) as string;
}

/** Folder holding our own wire-compatible .proto files (beside src/ when run from source, or from dist/). */
export const PROTO_DIR = EMBEDDED === null ? findProtoDir() : '';

/** The files loaded, relative to PROTO_DIR; each imports what it needs. */
export const PROTO_FILES = [
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
  cached ??= grpc.loadPackageDefinition(
    EMBEDDED === null
      ? protoLoader.loadSync(PROTO_FILES, LOADER_OPTIONS)
      : protoLoader.fromJSON(EMBEDDED, LOADER_OPTIONS),
  );
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
