import { join } from 'node:path';
import { readJson, writeFileAtomic } from '../common/store.js';
import { type Authority, createRootCA, describe, generateKeyPair, issue, toPem } from '../common/x509.js';
import type { ServerConfig } from './config.js';

/** The server's signing state: the CA that signs SVIDs, the roots agents trust, and its own TLS identity. */
export interface CaState {
  authority: Authority;
  /** CA chain to present above SVIDs: empty for a root CA, [intermediate] for a nested server. */
  chain: Buffer[];
  /** The trust bundle: root certificates (DER). */
  roots: Buffer[];
  tls: { certChainPem: string; keyPem: string };
}

interface Stored {
  cert: string;
  key: string;
  chain: string[];
  roots: string[];
}

const b64 = (b: Buffer) => b.toString('base64');
const unb64 = (s: string) => Buffer.from(s, 'base64');

function keyFile(config: ServerConfig): string | undefined {
  // The disk KeyManager keeps the CA key in keys_path; with "memory" the CA is new on every start, as in SPIRE.
  return config.keysPath;
}

/** Loads the persisted CA (if the disk KeyManager kept it and it is still valid) or creates one with `create`. */
export async function loadOrCreateCA(
  config: ServerConfig,
  create: () => Promise<Omit<CaState, 'tls'>>,
): Promise<CaState> {
  const path = keyFile(config);
  const stored = path ? readJson<Stored>(path) : undefined;
  let base: Omit<CaState, 'tls'>;
  if (stored && describe(unb64(stored.cert)).notAfter.getTime() > Date.now() + 60_000) {
    base = {
      authority: { cert: unb64(stored.cert), key: unb64(stored.key) },
      chain: stored.chain.map(unb64),
      roots: stored.roots.map(unb64),
    };
  } else {
    base = await create();
    if (path) {
      const data: Stored = {
        cert: b64(base.authority.cert),
        key: b64(base.authority.key),
        chain: base.chain.map(b64),
        roots: base.roots.map(b64),
      };
      writeFileAtomic(path, JSON.stringify(data));
    }
  }
  writeFileAtomic(join(config.dataDir, 'bundle.pem'), base.roots.map((r) => toPem(r)).join(''), 0o644);
  return { ...base, tls: await serverTls(config, base) };
}

/** A self-signed root for a server without an UpstreamAuthority. */
export async function rootCA(config: ServerConfig): Promise<Omit<CaState, 'tls'>> {
  const authority = await createRootCA(config.trustDomain, config.caTtlSeconds);
  return { authority, chain: [], roots: [authority.cert] };
}

async function serverTls(config: ServerConfig, ca: Omit<CaState, 'tls'>): Promise<CaState['tls']> {
  const keys = await generateKeyPair();
  const leaf = await issue({
    authority: ca.authority,
    publicKey: keys.publicKey,
    spiffeId: `spiffe://${config.trustDomain}/spire/server`,
    ttlSeconds: config.defaultX509SvidTtlSeconds,
    dnsNames: ['localhost'],
    ipAddresses: ['127.0.0.1'],
  });
  const chain = [leaf, ...(ca.chain.length ? ca.chain : [])];
  return { certChainPem: chain.map((c) => toPem(c)).join(''), keyPem: toPem(keys.pkcs8, 'PRIVATE KEY') };
}
