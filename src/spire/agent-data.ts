// The on-disk formats a SPIRE agent keeps between restarts: `agent-data.json` (spire `pkg/agent/storage`) and the
// disk key manager's `keys.json` (spire `pkg/agent/plugin/keymanager/disk`). Parsing only; no file access.
import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';

/** What SPIRE stores in `<data_dir>/agent-data.json`; certificates are parsed, bookkeeping fields ignored. */
export interface AgentData {
  svid: X509Certificate[];
  bundle: X509Certificate[];
  reattestable: boolean;
}

/** One private key from `keys.json`, reduced to the DER SubjectPublicKeyInfo of its public half. */
export interface StoredKey {
  id: string;
  spki: Buffer;
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; reason: string };

// Go's encoding/json writes []byte as standard, padded base64; Buffer.from would silently skip bad characters.
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function decodeBase64(value: unknown): Buffer | undefined {
  if (typeof value !== 'string' || !BASE64.test(value)) return undefined;
  return Buffer.from(value, 'base64');
}

function parseJsonObject(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

// Each list element is the base64 of one PEM `CERTIFICATE` block (storage.encodeCertificates); Go writes an empty
// list as `null`.
function parseCertificateList(field: string, value: unknown): Parsed<X509Certificate[]> {
  if (value === undefined || value === null) return { ok: true, value: [] };
  if (!Array.isArray(value)) return { ok: false, reason: `"${field}" is not a list` };
  const certs: X509Certificate[] = [];
  for (const [index, item] of value.entries()) {
    const pem = decodeBase64(item)?.toString('latin1');
    if (pem === undefined || !pem.includes('-----BEGIN CERTIFICATE-----')) {
      return { ok: false, reason: `"${field}"[${index}] is not a base64-encoded PEM certificate` };
    }
    try {
      certs.push(new X509Certificate(pem));
    } catch {
      return { ok: false, reason: `"${field}"[${index}] is not a valid X.509 certificate` };
    }
  }
  return { ok: true, value: certs };
}

/** Parses the text of `agent-data.json` the way SPIRE's storage does: any bad certificate makes the file unusable. */
export function parseAgentData(text: string): Parsed<AgentData> {
  const json = parseJsonObject(text);
  if (json === undefined) return { ok: false, reason: 'agent-data.json is not a JSON object' };
  const svid = parseCertificateList('svid', json.svid);
  if (!svid.ok) return { ok: false, reason: `agent-data.json: ${svid.reason}` };
  const bundle = parseCertificateList('bundle', json.bundle);
  if (!bundle.ok) return { ok: false, reason: `agent-data.json: ${bundle.reason}` };
  return {
    ok: true,
    value: { svid: svid.value, bundle: bundle.value, reattestable: json.reattestable === true },
  };
}

/** Parses `keys.json` (`{"keys": {id: base64 PKCS#8 DER}}`); SPIRE refuses to start if any key fails to parse. */
export function parseKeysFile(text: string): Parsed<StoredKey[]> {
  const json = parseJsonObject(text);
  if (json === undefined) return { ok: false, reason: 'keys.json is not a JSON object' };
  const keys = json.keys;
  if (keys === undefined || keys === null) return { ok: true, value: [] };
  if (typeof keys !== 'object' || Array.isArray(keys)) {
    return { ok: false, reason: 'keys.json: "keys" is not an object' };
  }
  const stored: StoredKey[] = [];
  for (const [id, value] of Object.entries(keys)) {
    const der = decodeBase64(value);
    if (der === undefined) return { ok: false, reason: `keys.json: key "${id}" is not base64` };
    try {
      const key = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
      stored.push({ id, spki: createPublicKey(key).export({ type: 'spki', format: 'der' }) });
    } catch {
      return { ok: false, reason: `keys.json: key "${id}" is not a PKCS#8 private key` };
    }
  }
  return { ok: true, value: stored };
}
