// How a client reaches a SPIRE server's admin APIs: its admin socket (local callers are trusted), or its TCP
// port with mTLS as an admin workload (SPIRE authorises admin RPCs over TCP for callers whose SPIFFE ID has an
// `admin: true` entry or is in `admin_ids`), the server authenticated as spiffe://<td>/spire/server.
import { readFile } from 'node:fs/promises';
import type { PeerCertificate } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { fromPem, toPem } from './der.js';
import { spiffeIdFromSan } from './spiffe-id.js';
import { fetchX509Svid, type WorkloadSvid } from './workload-api.js';

export interface SpireEndpoint {
  /** A grpc target: `unix:/path` or `host:port`. */
  target: string;
  credentials: grpc.ChannelCredentials;
  options?: grpc.ChannelOptions;
  /** For messages: where and as whom. */
  describe: string;
}

/** The admin socket (SPIRE's default `/tmp/spire-server/private/api.sock`). */
export function adminSocket(socketPath: string): SpireEndpoint {
  return {
    target: `unix:${socketPath}`,
    credentials: grpc.credentials.createInsecure(),
    describe: `the SPIRE server admin socket ${socketPath}`,
  };
}

/** Where the admin workload's X509-SVID comes from. */
export type AdminIdentity =
  | { workloadApiSocket: string }
  | { certFile: string; keyFile: string; bundleFile: string };

async function fromFiles(i: {
  certFile: string;
  keyFile: string;
  bundleFile: string;
}): Promise<Omit<WorkloadSvid, 'spiffeId'>> {
  const [cert, key, bundle] = await Promise.all(
    [i.certFile, i.keyFile, i.bundleFile].map((f) => readFile(f, 'utf8')),
  );
  const certChain = fromPem(cert as string);
  const keyDer = fromPem(key as string)[0];
  const roots = fromPem(bundle as string);
  if (certChain.length === 0) throw new Error(`${i.certFile} holds no PEM certificate`);
  if (!keyDer) throw new Error(`${i.keyFile} holds no PEM private key`);
  if (roots.length === 0) throw new Error(`${i.bundleFile} holds no PEM certificate`);
  return { certChain, key: keyDer, bundle: roots };
}

// SNI carries no IP address (RFC 6066), and the server is checked by SPIFFE ID, not by host name.
const CHANNEL_OPTIONS: grpc.ChannelOptions = { 'grpc.ssl_target_name_override': 'spire-server' };

/** mTLS to `address` (host:port) as the admin workload, trusting only `spiffe://<trustDomain>/spire/server`. */
export async function adminTcp(
  address: string,
  trustDomain: string,
  identity: AdminIdentity,
): Promise<SpireEndpoint> {
  const svid =
    'workloadApiSocket' in identity
      ? await fetchX509Svid(identity.workloadApiSocket)
      : await fromFiles(identity);
  const expect = `spiffe://${trustDomain}/spire/server`;
  const credentials = grpc.credentials.createSsl(
    Buffer.from(svid.bundle.map((r) => toPem(r)).join('')),
    Buffer.from(toPem(svid.key, 'PRIVATE KEY')),
    Buffer.from(svid.certChain.map((c) => toPem(c)).join('')),
    {
      checkServerIdentity: (_host: string, cert: PeerCertificate) => {
        const got = spiffeIdFromSan(cert.subjectaltname);
        return got === expect
          ? undefined
          : new Error(`the server at ${address} is ${got ?? 'no SPIFFE ID'}, expected ${expect}`);
      },
    },
  );
  const who = 'spiffeId' in svid ? ` as ${(svid as WorkloadSvid).spiffeId}` : '';
  return {
    target: address,
    credentials,
    options: CHANNEL_OPTIONS,
    describe: `the SPIRE server at ${address}${who}`,
  };
}
