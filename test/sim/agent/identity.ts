import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import type { Log } from '../common/log.js';
import type { KeyStore } from './keys.js';
import type { AgentData } from './storage.js';

const spki = (key: ReturnType<typeof createPublicKey>) =>
  key.export({ type: 'spki', format: 'der' }).toString('hex');

/**
 * Recovers the persisted agent SVID as SPIRE's node attestor does at start-up: the SVID must be unexpired and
 * its key (matched by public key) still held by the KeyManager; otherwise attestation is needed.
 */
export function recoverSvid(
  data: AgentData,
  keys: KeyStore,
  log: Log,
): { svid: Buffer[]; key: Buffer } | undefined {
  const fields = { subsystem_name: 'attestor' };
  const [leaf] = data.svid;
  const held = [...keys.all().values()];
  if (!leaf) {
    if (held.length) log.warn('Keys recovered, but no SVID found. Generating new keypair', fields);
    else log.debug('No pre-existing agent SVID found. Will perform node attestation', fields);
    return undefined;
  }
  if (held.length === 0) {
    log.warn('SVID recovered, but no keys found. Generating new keypair', fields);
    return undefined;
  }
  const cert = new X509Certificate(leaf);
  const want = spki(cert.publicKey);
  const key = held.find(
    (k) => spki(createPublicKey(createPrivateKey({ key: k, format: 'der', type: 'pkcs8' }))) === want,
  );
  if (!key) {
    log.warn('SVID recovered, but no SVID key found. Generating new keypair', fields);
    return undefined;
  }
  if (Date.now() + 1000 >= new Date(cert.validTo).getTime()) {
    log.warn('SVID key recovered, but SVID is expired. Generating new keypair', {
      ...fields,
      expiry: new Date(cert.validTo).toISOString(),
    });
    return undefined;
  }
  return { svid: data.svid, key };
}
