import * as grpc from '@grpc/grpc-js';
import type { Stats } from '../common/faults.js';
import { okStatus, rpcError, statusOf } from '../common/grpc.js';
import { csrPublicKey, describe, issue, verifySignedBy } from '../common/x509.js';
import type { CaState } from './ca.js';
import type { ServerConfig } from './config.js';
import { type DataStore, type EntryMsg, idString } from './datastore.js';

/** The SPIFFE ID proven by the caller's client certificate, when it chains to this server's CA. */
export async function callerId(
  call: { getAuthContext: grpc.ServerUnaryCall<unknown, unknown>['getAuthContext'] },
  ca: CaState,
): Promise<string | undefined> {
  const raw = call.getAuthContext()?.sslPeerCertificate?.raw;
  if (!raw) return undefined;
  if (!(await verifySignedBy(raw, ca.authority.cert))) return undefined;
  const { spiffeId, notAfter } = describe(raw);
  return notAfter.getTime() > Date.now() ? spiffeId : undefined;
}

/** Entries the calling agent may mint, or undefined when the caller is not an attested, unexpired agent. */
export async function authorizedFor(
  call: { getAuthContext: grpc.ServerUnaryCall<unknown, unknown>['getAuthContext'] },
  ca: CaState,
  store: DataStore,
  td: string,
): Promise<EntryMsg[] | undefined> {
  const id = await callerId(call, ca);
  const agent = id ? store.agent(id) : undefined;
  if (!id || !agent) return undefined;
  return store.authorizedEntries(id, [], `spiffe://${td}/spire/server`);
}

/** SPIRE's SVID service: agents mint workload SVIDs; downstream servers get an intermediate CA. */
export function svidService(deps: {
  config: ServerConfig;
  store: DataStore;
  ca: () => CaState;
  stats: Stats;
}): grpc.UntypedServiceImplementation {
  const { config, store, ca, stats } = deps;
  const td = config.trustDomain;

  const BatchNewX509SVID: grpc.handleUnaryCall<any, any> = async (call, cb) => {
    stats.inc('batch_new_x509_svid');
    const state = ca();
    const allowed = await authorizedFor(call, state, store, td);
    if (!allowed) return cb(rpcError(grpc.status.PERMISSION_DENIED, 'caller is not an attested agent'));
    const results = [];
    for (const p of call.request.params as { entry_id: string; csr: Buffer }[]) {
      const entry = allowed.find((e) => e.id === p.entry_id);
      if (!entry) {
        results.push({
          status: statusOf(grpc.status.NOT_FOUND, 'entry not found or not authorized'),
          svid: null,
        });
        continue;
      }
      try {
        const publicKey = await csrPublicKey(p.csr);
        const ttl = entry.x509_svid_ttl || config.defaultX509SvidTtlSeconds;
        const leaf = await issue({
          authority: state.authority,
          publicKey,
          spiffeId: idString(entry.spiffe_id),
          ttlSeconds: ttl,
          dnsNames: entry.dns_names,
        });
        const expires = Math.floor(describe(leaf).notAfter.getTime() / 1000);
        results.push({
          status: okStatus,
          svid: {
            cert_chain: [leaf, ...state.chain],
            id: entry.spiffe_id,
            expires_at: expires,
            hint: entry.hint,
          },
        });
      } catch (err) {
        results.push({
          status: statusOf(grpc.status.INVALID_ARGUMENT, `failed to parse CSR: ${(err as Error).message}`),
          svid: null,
        });
      }
    }
    cb(null, { results });
  };

  const NewDownstreamX509CA: grpc.handleUnaryCall<any, any> = async (call, cb) => {
    stats.inc('new_downstream_x509_ca');
    const state = ca();
    const id = await callerId(call, state);
    const entry = id ? store.entries().find((e) => idString(e.spiffe_id) === id && e.downstream) : undefined;
    if (!entry) return cb(rpcError(grpc.status.PERMISSION_DENIED, 'caller is not a downstream workload'));
    try {
      const publicKey = await csrPublicKey(call.request.csr);
      const ttl = call.request.preferred_ttl || config.caTtlSeconds;
      const cert = await issue({
        authority: state.authority,
        publicKey,
        spiffeId: `spiffe://${td}`,
        ttlSeconds: ttl,
        isCA: true,
      });
      cb(null, { ca_cert_chain: [cert, ...state.chain], x509_authorities: state.roots });
    } catch (err) {
      cb(rpcError(grpc.status.INVALID_ARGUMENT, `failed to parse CSR: ${(err as Error).message}`));
    }
  };

  return { BatchNewX509SVID, NewDownstreamX509CA };
}

/** SPIRE's Bundle service: the trust domain's X.509 roots. */
export function bundleService(deps: {
  config: ServerConfig;
  ca: () => CaState;
}): grpc.UntypedServiceImplementation {
  const GetBundle: grpc.handleUnaryCall<any, any> = (_call, cb) => {
    cb(null, {
      trust_domain: deps.config.trustDomain,
      x509_authorities: deps.ca().roots.map((asn1) => ({ asn1, tainted: false })),
      refresh_hint: 300,
      sequence_number: 1,
    });
  };
  return { GetBundle };
}
