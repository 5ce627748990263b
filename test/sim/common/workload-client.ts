import * as grpc from '@grpc/grpc-js';
import { services } from '../../../src/spire/proto.js';

/** One SVID as the Workload API streams it (DER chain and bundle concatenated, key PKCS#8). */
export interface WorkloadSvid {
  spiffe_id: string;
  x509_svid: Buffer;
  x509_svid_key: Buffer;
  bundle: Buffer;
  hint: string;
}

/** Opens FetchX509SVID on a Workload API socket; `header` false omits the security header (for tests). */
export function watchX509Svids(
  socketPath: string,
  onUpdate: (svids: WorkloadSvid[]) => void,
  onError: (err: grpc.ServiceError) => void,
  header = true,
): () => void {
  const client = new services.workload(`unix:${socketPath}`, grpc.credentials.createInsecure());
  const md = new grpc.Metadata();
  if (header) md.set('workload.spiffe.io', 'true');
  const fetch = client.FetchX509SVID as (
    req: object,
    md: grpc.Metadata,
  ) => grpc.ClientReadableStream<{ svids: WorkloadSvid[] }>;
  const stream = fetch.call(client, {}, md);
  let done = false;
  stream.on('data', (res) => onUpdate(res.svids));
  stream.on('error', (err: grpc.ServiceError) => {
    if (done) return;
    done = true;
    client.close();
    onError(err);
  });
  stream.on('end', () => client.close());
  return () => {
    done = true;
    stream.cancel();
    client.close();
  };
}

/** Resolves with the first FetchX509SVID update, or rejects with the first error. */
export function fetchX509SvidsOnce(socketPath: string, header = true): Promise<WorkloadSvid[]> {
  return new Promise((resolve, reject) => {
    const stop = watchX509Svids(
      socketPath,
      (svids) => {
        stop();
        resolve(svids);
      },
      reject,
      header,
    );
  });
}
