// A Workload API client (go-spiffe's FetchX509SVID): an admin workload's own X509-SVID, key and bundle, from
// an agent's socket, to call the SPIRE server over TCP as itself.
import * as grpc from '@grpc/grpc-js';
import { splitDer } from './der.js';
import { services } from './proto.js';

export interface WorkloadSvid {
  spiffeId: string;
  /** Leaf first, DER. */
  certChain: Buffer[];
  /** PKCS#8 DER. */
  key: Buffer;
  /** The trust domain's roots, DER. */
  bundle: Buffer[];
}

interface SvidMsg {
  spiffe_id: string;
  x509_svid: Buffer;
  x509_svid_key: Buffer;
  bundle: Buffer;
}

/** The first SVID the agent at `socketPath` issues to this process (the first, as go-spiffe's default picker). */
export function fetchX509Svid(socketPath: string, timeoutMs = 10_000): Promise<WorkloadSvid> {
  const client = new services.workload(`unix:${socketPath}`, grpc.credentials.createInsecure());
  const metadata = new grpc.Metadata();
  // Every Workload API call must carry it, or the agent answers "security header missing from request".
  metadata.set('workload.spiffe.io', 'true');
  return new Promise<WorkloadSvid>((resolve, reject) => {
    const call = (
      client as unknown as {
        FetchX509SVID(
          req: object,
          md: grpc.Metadata,
          opts: object,
        ): grpc.ClientReadableStream<{ svids: SvidMsg[] }>;
      }
    ).FetchX509SVID({}, metadata, { deadline: new Date(Date.now() + timeoutMs) });
    call.on('data', (res: { svids: SvidMsg[] }) => {
      const first = res.svids[0];
      if (!first) return;
      call.cancel();
      resolve({
        spiffeId: first.spiffe_id,
        certChain: splitDer(first.x509_svid),
        key: first.x509_svid_key,
        bundle: splitDer(first.bundle),
      });
    });
    call.on('error', (err: grpc.ServiceError) => {
      if (err.code === grpc.status.CANCELLED) return;
      reject(
        new Error(
          `the Workload API at ${socketPath} issued no SVID (${grpc.status[err.code]}: ${err.details})`,
        ),
      );
    });
  }).finally(() => client.close());
}
