import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { atLeast } from '../common/cli.js';
import { goTime } from '../common/go-text.js';
import type { Log } from '../common/log.js';
import type { DataStore, JournalEntry } from './datastore.js';
import type { ServerKeyManager } from './keys.js';

// pkg/server/ca/manager/slot.go and journal.go: the X.509 CA slots A and B are rebuilt at start from the CA
// journal (kept in the datastore) and the KeyManager's `x509-CA-<slot>` keys.

export type SlotId = 'A' | 'B';
export type Status = JournalEntry['status'];

/** A loaded X.509 CA: its certificate, key, the upstream chain above it (starting with itself) and journal data. */
export interface X509CA {
  cert: Buffer;
  key: Buffer;
  upstreamChain: Buffer[];
  issuedAt: number;
  notAfter: number;
  authorityId: string;
  upstreamAuthorityId: string;
}

export interface Slot {
  id: SlotId;
  ca: X509CA | undefined;
  status: Status;
}

export const kmKeyId = (slot: SlotId) => `x509-CA-${slot}`;
export const otherSlot = (id: SlotId): SlotId => (id === 'A' ? 'B' : 'A');
export const isEmpty = (s: Slot) => !s.ca || s.status === 'OLD';

const spki = (pub: ReturnType<typeof createPublicKey>) =>
  pub.export({ type: 'spki', format: 'der' }).toString('hex');
const keySpki = (pkcs8: Buffer) =>
  spki(createPublicKey(createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' })));

// manager.go: preparation at half the lifetime (capped at 30 days), activation at five sixths (capped at 7 days).
const DAY = 24 * 3600 * 1000;
export const shouldPrepareNext = (s: Slot, now: number) =>
  Boolean(s.ca && now > s.ca.notAfter - Math.min((s.ca.notAfter - s.ca.issuedAt) / 2, 30 * DAY));
export const shouldActivateNext = (s: Slot, now: number) =>
  Boolean(s.ca && now > s.ca.notAfter - Math.min((s.ca.notAfter - s.ca.issuedAt) / 6, 7 * DAY));

function tryLoad(entry: JournalEntry, km: ServerKeyManager, log: Log): X509CA | undefined {
  const cert = Buffer.from(entry.certificate, 'base64');
  const key = km.get(kmKeyId(entry.slotId));
  const reason =
    entry.notAfter * 1000 < Date.now()
      ? 'slot expired'
      : !key
        ? 'no key manager key'
        : keySpki(key) !== spki(new X509Certificate(cert).publicKey)
          ? 'public key does not match key manager key'
          : undefined;
  if (reason || !key) {
    log.warn('X509CA slot unusable', {
      error: reason,
      issued_at: goTime(new Date(entry.issuedAt * 1000)),
      local_authority_id: entry.authorityId,
      slot: entry.slotId,
      status: entry.status,
      upstream_authority_id: entry.upstreamAuthorityId,
    });
    return undefined;
  }
  return {
    cert,
    key,
    upstreamChain: entry.upstreamChain.map((c) => Buffer.from(c, 'base64')),
    issuedAt: entry.issuedAt * 1000,
    notAfter: entry.notAfter * 1000,
    authorityId: entry.authorityId,
    upstreamAuthorityId: entry.upstreamAuthorityId,
  };
}

/**
 * SlotLoader.load: the journal is this server's only when one of its certificates has a KeyManager key (with
 * KeyManager "memory" nothing matches); a root server also drops entries whose certificate left the bundle.
 * The newest ACTIVE entry becomes current and the newest other one next; with no ACTIVE entry the newest
 * PREPARED/OLD one is moved to current.
 */
export function loadSlots(
  store: DataStore,
  km: ServerKeyManager,
  upstream: boolean,
  log: Log,
): { current: Slot; next: Slot; entries: JournalEntry[] } {
  const held = new Set(['A', 'B'].flatMap((id) => km.get(kmKeyId(id as SlotId)) ?? []).map(keySpki));
  const stored = store.journal();
  const ours = stored.some((e) =>
    held.has(spki(new X509Certificate(Buffer.from(e.certificate, 'base64')).publicKey)),
  );
  if (!ours && stored.length)
    log.info('There is not a CA journal record that matches any of the local X509 authority IDs');
  let entries = ours ? stored : [];
  const counts: Record<string, number> = { jwt_keys: 0, x509_cas: entries.length };
  if (atLeast('1.15.0')) counts.wit_keys = 0;
  log.info('Journal loaded', counts);
  if (!upstream) {
    const bundle = new Set(store.bundle().map((b) => b.toString('base64')));
    entries = entries.filter((e) => bundle.has(e.certificate));
  }
  let current: Slot | undefined;
  let next: Slot | undefined;
  for (const entry of [...entries].reverse()) {
    const ca = tryLoad(entry, km, log);
    if (!ca) continue;
    const slot: Slot = { id: entry.slotId, ca, status: entry.status };
    if (entry.status === 'ACTIVE') current = slot;
    else next ??= slot;
    if (current && next) break;
  }
  if (current)
    return { current, next: next ?? { id: otherSlot(current.id), ca: undefined, status: 'OLD' }, entries };
  if (next) return { current: next, next: { id: otherSlot(next.id), ca: undefined, status: 'OLD' }, entries };
  return {
    current: { id: 'A', ca: undefined, status: 'OLD' },
    next: { id: 'B', ca: undefined, status: 'OLD' },
    entries,
  };
}
