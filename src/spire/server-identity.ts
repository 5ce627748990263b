// A SPIRE server's own identity as its agents see it: the TLS chain it serves (its SVID, then its CA).
import { connect, type DetailedPeerCertificate } from 'node:tls';
import { spiffeIdFromSan } from './spiffe-id.js';

export interface ServerIdentity {
  spiffeId: string | undefined;
  /** When the server's signing CA (the last certificate it serves, an intermediate for a nested server) expires. */
  caExpiresAt: Date;
  caIssuedAt: Date;
}

/**
 * Reads the certificate chain a SPIRE server presents on its agent port. Nothing is trusted or sent: the
 * connection only looks at the chain and closes.
 */
export function peekServerIdentity(host: string, port: number, timeoutMs = 5_000): Promise<ServerIdentity> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port, rejectUnauthorized: false, servername: 'spire-server' });
    const timer = setTimeout(
      () => socket.destroy(new Error(`no TLS handshake with ${host}:${port} in ${timeoutMs} ms`)),
      timeoutMs,
    );
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      const leaf = socket.getPeerCertificate(true) as DetailedPeerCertificate;
      let ca = leaf;
      while (ca.issuerCertificate && ca.issuerCertificate !== ca && ca.issuerCertificate.raw)
        ca = ca.issuerCertificate;
      socket.end();
      resolve({
        spiffeId: spiffeIdFromSan(leaf.subjectaltname),
        caExpiresAt: new Date(ca.valid_to),
        caIssuedAt: new Date(ca.valid_from),
      });
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}
