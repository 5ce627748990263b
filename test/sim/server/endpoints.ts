import { chmodSync, mkdirSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { services } from '../../../src/spire/proto.js';
import { recordRequest } from '../common/events.js';
import type { Faults, Stats } from '../common/faults.js';
import { goListenError } from '../common/go-text.js';
import { bind } from '../common/grpc.js';
import type { Log } from '../common/log.js';
import { spiffeServerCredentials } from '../common/tls.js';
import { agentService } from './agent-api.js';
import { authorize, type Caller, tcpCaller } from './authz.js';
import type { CaManager } from './ca.js';
import type { ServerConfig } from './config.js';
import type { DataStore } from './datastore.js';
import { entryService } from './entry-api.js';
import { authorizedFor, bundleService, svidService } from './svid-api.js';

export interface EndpointDeps {
  config: ServerConfig;
  store: DataStore;
  ca: CaManager;
  log: Log;
  faults: Faults;
  stats: Stats;
}

type Definition = grpc.ServiceDefinition;
type Impl = grpc.UntypedServiceImplementation;

/**
 * Puts SPIRE's authorization middleware in front of every unary method: the caller is the local socket or
 * the TCP peer's verified X509-SVID, and the method's policy decides (authz.ts).
 */
function guarded(def: Definition, impl: Impl, local: boolean, deps: EndpointDeps): Impl {
  const out: Impl = {};
  for (const [name, handler] of Object.entries(impl)) {
    const method = def[name] as grpc.MethodDefinition<unknown, unknown> | undefined;
    if (!method || method.requestStream) {
      out[name] = handler;
      continue;
    }
    const unary = handler as grpc.handleUnaryCall<unknown, unknown>;
    out[name] = ((call: grpc.ServerUnaryCall<unknown, unknown>, cb: grpc.sendUnaryData<unknown>) => {
      const caller: Caller = local ? { local: true } : tcpCaller(call);
      const denied = authorize(method.path, caller, deps);
      if (denied) return cb(denied);
      if (!local) return unary(call, cb);
      // An admin call's own time, for benchmarks that take the servers' share out of a client's.
      const arrived = performance.now();
      return unary(call, (err, value) => {
        recordRequest('spire-server', method.path, performance.now() - arrived);
        cb(err, value);
      });
    }) as grpc.UntypedHandleCall;
  }
  return out;
}

/** The same services on the TCP endpoint (agents, downstream servers, admin workloads) and the admin socket. */
function addServices(server: grpc.Server, local: boolean, deps: EndpointDeps): void {
  const { config, store, log, faults, stats } = deps;
  const ca = () => deps.ca.state;
  const entry = entryService({ config, store, faults, stats });
  entry.GetAuthorizedEntries = ((
    call: grpc.ServerUnaryCall<unknown, unknown>,
    cb: grpc.sendUnaryData<unknown>,
  ) => {
    stats.inc('get_authorized_entries');
    cb(null, { entries: authorizedFor(tcpCaller(call).id ?? '', store, config.trustDomain) });
  }) as grpc.UntypedHandleCall;
  const all: [Definition, Impl][] = [
    [services.agent.service, agentService({ config, store, ca, log, faults, stats })],
    [services.entry.service, entry],
    [services.svid.service, svidService({ config, store, ca, stats })],
    [services.bundle.service, bundleService({ config, ca })],
  ];
  for (const [def, impl] of all) server.addService(def, guarded(def, impl, local, deps));
  if (local) {
    // grpc.health.v1 is registered on the UDS server only (endpoints.go).
    server.addService(services.health.service, {
      Check: (_c: unknown, cb: grpc.sendUnaryData<unknown>) => cb(null, { status: 'SERVING' }),
    });
  }
}

/** The server's two listeners, started as endpoints.ListenAndServe does: TCP first, then the admin socket. */
export async function listenAndServe(deps: EndpointDeps): Promise<{ stop(): void }> {
  const { config, log } = deps;
  const epLog = log.with({ subsystem_name: 'endpoints' });
  const tcp = new grpc.Server();
  const uds = new grpc.Server();
  addServices(tcp, false, deps);
  addServices(uds, true, deps);
  const material = (s = deps.ca.state) => ({
    roots: s.roots,
    certChainPem: s.tls.certChainPem,
    keyPem: s.tls.keyPem,
  });
  const tls = spiffeServerCredentials(material());
  deps.ca.onChange((s) => tls.update(material(s)));
  const address = `${config.bindAddress}:${config.bindPort}`;
  try {
    const port = await bind(tcp, address, tls.creds);
    epLog.info('Starting Server APIs', { address: `${config.bindAddress}:${port}`, network: 'tcp' });
  } catch (err) {
    // grpc-js folds the errno into its message ("… [listen EADDRINUSE: …]"); Go's net.Listen error names it.
    const code = /listen (E[A-Z]+)/.exec((err as Error).message)?.[1];
    throw new Error(goListenError('tcp', address, Object.assign(err as Error, { code })));
  }
  // runLocalAccess removes a stale socket before listening, so a leftover file never blocks start-up.
  mkdirSync(dirname(config.socketPath), { recursive: true, mode: 0o750 });
  rmSync(config.socketPath, { force: true });
  await bind(uds, `unix:${config.socketPath}`, grpc.ServerCredentials.createInsecure());
  // restrictLocalAddr: only the server's user and group may use the admin socket.
  chmodSync(config.socketPath, 0o770);
  epLog.info('Starting Server APIs', { address: config.socketPath, network: 'unix' });
  return {
    stop() {
      epLog.info('Stopping Server APIs');
      tcp.forceShutdown();
      uds.forceShutdown();
      rmSync(config.socketPath, { force: true });
    },
  };
}
