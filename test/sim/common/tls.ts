import type { PeerCertificate } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { toPem } from './x509.js';

/** What a SPIRE peer proves about the server: trust roots (or insecure bootstrap) and the expected SPIFFE ID. */
export interface SpiffeTls {
  /** DER roots; undefined means insecure bootstrap (no chain verification, ID still checked). */
  roots: Buffer[] | undefined;
  expectId: string;
  client?: { chain: Buffer[]; key: Buffer };
}

/** The URI SAN of a peer certificate, as Node reports it. */
export function peerSpiffeId(cert: PeerCertificate): string | undefined {
  return /URI:(spiffe:\/\/[^,\s]+)/.exec(cert.subjectaltname ?? '')?.[1];
}

/** Channel options for SPIFFE TLS: SNI carries no IP address (RFC 6066), the peer is checked by SPIFFE ID. */
export const SPIFFE_CHANNEL_OPTIONS: grpc.ChannelOptions = {
  'grpc.ssl_target_name_override': 'spire-server',
};

/**
 * Channel credentials that authenticate the server by SPIFFE ID, not host name (go-spiffe's AuthorizeID), the
 * way SPIRE agents and the UpstreamAuthority plugin dial the server.
 */
export function spiffeChannel({ roots, expectId, client }: SpiffeTls): grpc.ChannelCredentials {
  const rootPem = roots ? Buffer.from(roots.map((r) => toPem(r)).join('')) : null;
  const key = client ? Buffer.from(toPem(client.key, 'PRIVATE KEY')) : null;
  const chain = client ? Buffer.from(client.chain.map((c) => toPem(c)).join('')) : null;
  return grpc.credentials.createSsl(rootPem, key, chain, {
    rejectUnauthorized: Boolean(roots),
    checkServerIdentity: (_host, cert) => {
      const got = peerSpiffeId(cert);
      return got === expectId
        ? undefined
        : new Error(`expected server SPIFFE ID "${expectId}"; got "${got ?? ''}"`);
    },
  });
}

/** The server's TLS material: the roots client certificates are checked against, and its own SVID chain. */
export interface ServerTlsMaterial {
  roots: Buffer[];
  certChainPem: string;
  keyPem: string;
}

/**
 * Server credentials that ask for, but do not require, a client certificate: agents attest without one and
 * sync with their SVID, as on SPIRE's TCP endpoint (tls.RequestClientCert). Callers are then authorised by their
 * verified SPIFFE ID. `update` swaps roots and SVID in place, as SPIRE's per-handshake GetConfigForClient reads
 * the current bundle and server SVID.
 */
export function spiffeServerCredentials(initial: ServerTlsMaterial): {
  creds: grpc.ServerCredentials;
  update(next: ServerTlsMaterial): void;
} {
  let current = initial;
  const caListeners = new Set<(u: { caCertificate: Buffer }) => void>();
  const idListeners = new Set<(u: { certificate: Buffer; privateKey: Buffer }) => void>();
  const ca = () => ({ caCertificate: Buffer.from(current.roots.map((r) => toPem(r)).join('')) });
  const identity = () => ({
    certificate: Buffer.from(current.certChainPem),
    privateKey: Buffer.from(current.keyPem),
  });
  // grpc-js registers its own watcher only after adding these listeners, so the first update must come later.
  const provider: grpc.experimental.CertificateProvider = {
    addCaCertificateListener: (listener) => {
      caListeners.add(listener);
      setImmediate(() => listener(ca()));
    },
    removeCaCertificateListener: (listener) => caListeners.delete(listener),
    addIdentityCertificateListener: (listener) => {
      idListeners.add(listener);
      setImmediate(() => listener(identity()));
    },
    removeIdentityCertificateListener: (listener) => idListeners.delete(listener),
  };
  return {
    creds: grpc.experimental.createCertificateProviderServerCredentials(provider, provider, false),
    update(next) {
      current = next;
      for (const l of caListeners) l(ca());
      for (const l of idListeners) l(identity());
    },
  };
}
