import { type Authority, describe, generateKeyPair, issue, toPem } from '../common/x509.js';
import type { ServerConfig } from './config.js';

/** The server's own TLS identity: its SVID chain (with the upstream chain of a nested server) and key. */
export interface ServerTls {
  certChainPem: string;
  keyPem: string;
  notAfter: number;
}

/**
 * Signs the server's SVID `spiffe://<td>/spire/server` under the active CA, as pkg/server/svid's rotator does
 * at start and whenever the CA or half of the SVID's lifetime has passed.
 */
export async function issueServerSvid(
  config: ServerConfig,
  authority: Authority,
  chain: Buffer[],
): Promise<ServerTls> {
  const keys = await generateKeyPair();
  const leaf = await issue({
    authority,
    publicKey: keys.publicKey,
    spiffeId: `spiffe://${config.trustDomain}/spire/server`,
    ttlSeconds: config.defaultX509SvidTtlSeconds,
    dnsNames: ['localhost'],
    ipAddresses: ['127.0.0.1'],
  });
  return {
    certChainPem: [leaf, ...chain].map((c) => toPem(c)).join(''),
    keyPem: toPem(keys.pkcs8, 'PRIVATE KEY'),
    notAfter: describe(leaf).notAfter.getTime(),
  };
}
