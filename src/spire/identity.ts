// Does the upstream agent's data dir hold an identity it will load on start (spire `pkg/agent/attestor/node`,
// loadSVID: an unexpired SVID whose public key matches one of the key manager's keys)? If so no token is needed.

import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseAgentData, parseKeysFile } from './agent-data.js';
import { spiffeIdFromSan } from './spiffe-id.js';

export type IdentityStatus = 'valid' | 'expiring' | 'expired' | 'missing' | 'no-key' | 'corrupt';

export interface IdentityAssessment {
  status: IdentityStatus;
  spiffeId?: string;
  expiresAt?: Date;
  /** When the SVID was issued (notBefore); with expiresAt it tells when SPIRE rotates it (at half-life). */
  issuedAt?: Date;
  reason: string;
}

/** The expiry (notAfter) of a PEM or DER certificate. */
export function certificateExpiry(cert: string | Buffer): Date {
  return new Date(Date.parse(new X509Certificate(cert).validTo));
}

function formatSeconds(ms: number): string {
  return `${Math.round(ms / 1000)}s`;
}

/**
 * Judges an agent's stored identity from the text of `agent-data.json` and `keys.json` (undefined: file absent)
 * at `now`; an SVID expiring within `safetyMarginSeconds` is reported as 'expiring' so a token can be prepared.
 */
export function assessIdentity(
  agentDataText: string | undefined,
  keysText: string | undefined,
  now: Date,
  safetyMarginSeconds: number,
): IdentityAssessment {
  if (agentDataText === undefined) return { status: 'missing', reason: 'agent-data.json does not exist' };
  const data = parseAgentData(agentDataText);
  if (!data.ok) return { status: 'corrupt', reason: data.reason };
  // Checked even without an SVID: the agent's disk key manager refuses to start on an unreadable keys.json.
  const keys = keysText === undefined ? undefined : parseKeysFile(keysText);
  if (keys !== undefined && !keys.ok) return { status: 'corrupt', reason: keys.reason };
  const leaf = data.value.svid[0];
  if (leaf === undefined) return { status: 'missing', reason: 'agent-data.json holds no SVID' };

  const spiffeId = spiffeIdFromSan(leaf.subjectAltName);
  if (spiffeId === undefined)
    return { status: 'corrupt', reason: 'the stored SVID has no spiffe:// URI SAN' };
  const expiresAt = certificateExpiry(leaf.raw);
  const left = expiresAt.getTime() - now.getTime();
  const found = {
    spiffeId,
    expiresAt,
    issuedAt: new Date(Date.parse(new X509Certificate(leaf.raw).validFrom)),
  };
  if (left <= 0) {
    return { status: 'expired', ...found, reason: `the stored SVID expired at ${expiresAt.toISOString()}` };
  }
  if (keys === undefined) return { status: 'no-key', ...found, reason: 'keys.json does not exist' };
  const spki = leaf.publicKey.export({ type: 'spki', format: 'der' });
  if (!keys.value.some((key) => key.spki.equals(spki))) {
    return {
      status: 'no-key',
      ...found,
      reason: "keys.json holds no key matching the stored SVID's public key",
    };
  }
  if (left <= safetyMarginSeconds * 1000) {
    const reason = `the stored SVID expires in ${formatSeconds(left)}, within the ${safetyMarginSeconds}s safety margin`;
    return { status: 'expiring', ...found, reason };
  }
  return { status: 'valid', ...found, reason: `the stored SVID is valid until ${expiresAt.toISOString()}` };
}

async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/**
 * Reads `<dataDir>/agent-data.json` and `<keyDir>/keys.json` and assesses them. Read errors other than a missing
 * file (permissions, I/O) are thrown: they say nothing about the identity, and must not lead to a new token.
 */
export async function inspectIdentity(
  dataDir: string,
  keyDir: string,
  now: Date,
  safetyMarginSeconds: number,
): Promise<IdentityAssessment> {
  const [agentData, keys] = await Promise.all([
    readIfExists(join(dataDir, 'agent-data.json')),
    readIfExists(join(keyDir, 'keys.json')),
  ]);
  return assessIdentity(agentData, keys, now, safetyMarginSeconds);
}
