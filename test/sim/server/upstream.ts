import * as grpc from '@grpc/grpc-js';
import { callUnary, services } from '../../../src/spire/proto.js';
import { goRpcError, scaled } from '../common/grpc.js';
import type { Log } from '../common/log.js';
import { SPIFFE_CHANNEL_OPTIONS, spiffeChannel } from '../common/tls.js';
import { type WorkloadSvid, watchX509Svids } from '../common/workload-client.js';
import { createCsr, generateKeyPair, splitDer } from '../common/x509.js';
import type { CaState } from './ca.js';
import type { ServerConfig } from './config.js';

type Upstream = NonNullable<ServerConfig['upstream']>;

/**
 * Waits for this server's own SVID from the upstream agent's Workload API, retrying forever with go-spiffe's
 * linear backoff (1 s, 2 s, … capped at 30 s) and logging each failure, as the real plugin does; an
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
        (err) => {
          if (err.code === grpc.status.INVALID_ARGUMENT) {
            log.error(`Canceling watch: ${goRpcError(err)}`);
            reject(
              new Error(
                `unable to request a new Downstream X509CA: unable to create X509Source: ${goRpcError(err)}`,
              ),
            );
            return;
          }
          attempt += 1;
          const wait = Math.min(attempt, 30);
          log.error(`Failed to watch the Workload API: ${goRpcError(err)}`);
          log.debug(`Retrying watch in ${wait}s`);
          setTimeout(watch, scaled(wait * 1000));
        },
      );
    };
    watch();
  });
}

/** Obtains an intermediate CA from the upstream server, authenticated with the downstream SVID. */
export async function upstreamCA(
  config: ServerConfig,
  up: Upstream,
  log: Log,
): Promise<Omit<CaState, 'tls'>> {
  const pluginLog = log.with({
    external: false,
    plugin_name: 'spire',
    plugin_type: 'UpstreamAuthority',
    subsystem_name: 'catalog',
  });
  const svid = await awaitSvid(up, pluginLog);
  const creds = spiffeChannel({
    roots: splitDer(svid.bundle),
    expectId: `spiffe://${config.trustDomain}/spire/server`,
    client: { chain: splitDer(svid.x509_svid), key: svid.x509_svid_key },
  });
  const client = new services.svid(`${up.serverAddress}:${up.serverPort}`, creds, SPIFFE_CHANNEL_OPTIONS);
  const keys = await generateKeyPair();
  const csr = await createCsr(keys);
  try {
    const res = await callUnary<{ ca_cert_chain: Buffer[]; x509_authorities: Buffer[] }>(
      client,
      'NewDownstreamX509CA',
      { csr, preferred_ttl: config.caTtlSeconds },
    );
    const [cert] = res.ca_cert_chain;
    if (!cert) throw new Error('upstream returned no CA certificate');
    return { authority: { cert, key: keys.pkcs8 }, chain: res.ca_cert_chain, roots: res.x509_authorities };
  } catch (err) {
    throw new Error(`unable to request a new Downstream X509CA: ${goRpcError(err as grpc.ServiceError)}`);
  } finally {
    client.close();
  }
}
