import * as grpc from '@grpc/grpc-js';
import { callUnary, services } from '../../../src/spire/proto.js';
import { probeServer, probeUnix } from '../common/dial.js';
import { goRpcError, scaled } from '../common/grpc.js';
import type { Log } from '../common/log.js';
import { SPIFFE_CHANNEL_OPTIONS, spiffeChannel } from '../common/tls.js';
import { type WorkloadSvid, watchX509Svids } from '../common/workload-client.js';
import { createCsr, type KeyPair, splitDer } from '../common/x509.js';
import type { MintUpstream } from './ca.js';
import type { ServerConfig } from './config.js';

type Upstream = NonNullable<ServerConfig['upstream']>;
// spire_server_client.go dials with grpc.NewClient's default, pick_first.
const LB = 'pick_first';

// The plugin's errors reach the server through the plugin facade, which prefixes them (common/plugin/facade.go).
const pluginError = (msg: string) =>
  new Error(`rpc error: code = Internal desc = upstreamauthority(spire): ${msg}`);

/** The Workload API error as go-spiffe logs it; a missing or dead socket is described as grpc-go dials it. */
async function watchError(socket: string, err: grpc.ServiceError): Promise<string> {
  if (err.code === grpc.status.UNAVAILABLE) {
    const desc = await probeUnix(socket);
    if (desc) return `rpc error: code = Unavailable desc = ${desc}`;
  }
  return goRpcError(err);
}

/**
 * Waits for this server's own SVID from the upstream agent's Workload API, retrying forever with go-spiffe's
 * linear backoff (1 s, 2 s, … capped at 30 s) and logging each failure, as the real plugin's X509Source does; an
 * INVALID_ARGUMENT cancels the watch and fails start-up.
 */
function awaitSvid(up: Upstream, log: Log): Promise<WorkloadSvid> {
  return new Promise((resolve, reject) => {
    let attempt = 0;
    const watch = () => {
      const stop = watchX509Svids(
        up.workloadApiSocket,
        (svids) => {
          const first = svids[0];
          if (!first) return;
          stop();
          resolve(first);
        },
        (err) =>
          void watchError(up.workloadApiSocket, err).then((text) => {
            if (err.code === grpc.status.INVALID_ARGUMENT) {
              log.error(`Canceling watch: ${text}`);
              reject(pluginError(`unable to create X509Source: ${text}`));
              return;
            }
            attempt += 1;
            const wait = Math.min(attempt, 30);
            log.error(`Failed to watch the Workload API: ${text}`);
            log.debug(`Retrying watch in ${wait}s`);
            setTimeout(watch, scaled(wait * 1000));
          }),
      );
    };
    watch();
  });
}

/** The spire UpstreamAuthority's MintX509CA: NewDownstreamX509CA on the upstream server, with the downstream SVID. */
export function upstreamMinter(config: ServerConfig, up: Upstream, log: Log): MintUpstream {
  const pluginLog = log.with({
    external: false,
    plugin_name: 'spire',
    plugin_type: 'UpstreamAuthority',
    subsystem_name: 'catalog',
  });
  return async (keys: KeyPair) => {
    const svid = await awaitSvid(up, pluginLog);
    const tls = {
      roots: splitDer(svid.bundle),
      expectId: `spiffe://${config.trustDomain}/spire/server`,
      client: { chain: splitDer(svid.x509_svid), key: svid.x509_svid_key },
    };
    const target = `${up.serverAddress}:${up.serverPort}`;
    const requestFailed = (text: string) => pluginError(`unable to request a new Downstream X509CA: ${text}`);
    const unreachable = await probeServer({ target, lb: LB, ...tls });
    if (unreachable) throw requestFailed(`rpc error: code = Unavailable desc = ${unreachable}`);
    const client = new services.svid(target, spiffeChannel(tls), SPIFFE_CHANNEL_OPTIONS);
    try {
      const res = await callUnary<{ ca_cert_chain: Buffer[]; x509_authorities: Buffer[] }>(
        client,
        'NewDownstreamX509CA',
        { csr: await createCsr(keys), preferred_ttl: config.caTtlSeconds },
      );
      if (!res.ca_cert_chain[0]) throw new Error('upstream returned no CA certificate');
      return { chain: res.ca_cert_chain, roots: res.x509_authorities };
    } catch (err) {
      throw requestFailed(goRpcError(err as grpc.ServiceError));
    } finally {
      client.close();
    }
  };
}
