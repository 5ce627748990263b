import * as grpc from '@grpc/grpc-js';
import type { Stats } from '../common/faults.js';
import { okStatus, rpcError, statusOf } from '../common/grpc.js';
import { csrPublicKey, describe, downstreamSubject, issue } from '../common/x509.js';
import { tcpCaller } from './authz.js';
import type { CaState } from './ca.js';
import type { ServerConfig } from './config.js';
import { type DataStore, type EntryMsg, idString } from './datastore.js';

/** Entries the calling agent may mint: parented to it, to its aliases, and their descendants. */
export function authorizedFor(agentId: string, store: DataStore, td: string): EntryMsg[] {
  return store.authorizedEntries(agentId, [], `spiffe://${td}/spire/server`);
}

/**
 * SPIRE's SVID service: agents mint workload SVIDs; downstream servers get an intermediate CA. Callers are
 * already authorised (agent, downstream) by the endpoint's authorization wrapper.
 */
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
    const allowed = authorizedFor(tcpCaller(call).id ?? '', store, td);
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
        const leaf = await issue({
          authority: state.authority,
          publicKey,
          spiffeId: idString(entry.spiffe_id),
          ttlSeconds: entry.x509_svid_ttl || config.defaultX509SvidTtlSeconds,
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
    try {
      const publicKey = await csrPublicKey(call.request.csr);
      const parentChain = state.chain.length ? state.chain : [state.authority.cert];
      const cert = await issue({
        authority: state.authority,
        publicKey,
        spiffeId: `spiffe://${td}`,
        ttlSeconds: call.request.preferred_ttl || config.caTtlSeconds,
        isCA: true,
        subject: downstreamSubject(state.authority.cert, parentChain.length),
      });
      // The chain above the new CA is this server's upstream chain (empty for a root CA).
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
