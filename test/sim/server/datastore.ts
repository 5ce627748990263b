import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { errnoText } from '../common/go-text.js';
import { writeFileAtomic } from '../common/store.js';

export interface SpiffeIdMsg {
  trust_domain: string;
  path: string;
}
export interface SelectorMsg {
  type: string;
  value: string;
}
/** A registration entry in the Entry API's own shape (snake_case, as on the wire). */
export interface EntryMsg {
  id: string;
  spiffe_id: SpiffeIdMsg;
  parent_id: SpiffeIdMsg;
  selectors: SelectorMsg[];
  x509_svid_ttl: number;
  federates_with: string[];
  admin: boolean;
  downstream: boolean;
  expires_at: number;
  dns_names: string[];
  revision_number: number;
  store_svid: boolean;
  jwt_svid_ttl: number;
  hint: string;
  created_at: number;
}
export interface AttestedAgent {
  spiffeId: string;
  serial: string;
  expiresAt: number;
  attestedAt: number;
}
/** One CA journal entry (proto/private/server/journal X509CAEntry): certificates are base64 DER. */
export interface JournalEntry {
  slotId: 'A' | 'B';
  issuedAt: number;
  notAfter: number;
  certificate: string;
  upstreamChain: string[];
  status: 'PREPARED' | 'ACTIVE' | 'OLD';
  authorityId: string;
  upstreamAuthorityId: string;
}
interface Data {
  tokens: Record<string, number>;
  entries: EntryMsg[];
  agents: Record<string, AttestedAgent>;
  /** The trust domain's X.509 authorities (base64 DER), append-only until pruned, as SPIRE's bundle table. */
  bundle: string[];
  /** The CA journal, which SPIRE ≥ 1.11 keeps in the datastore (ca_journals). */
  caJournal: JournalEntry[];
}

/** The datastore could not be opened: SPIRE's sql plugin error, returned as is by the catalog. */
export class DataStoreError extends Error {}

function load(path: string): Data {
  const empty: Data = { tokens: {}, entries: [], agents: {}, bundle: [], caJournal: [] };
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ENOENT') return empty;
    // mattn/go-sqlite3's SQLITE_CANTOPEN text with the errno appended.
    throw new DataStoreError(`datastore-sql: unable to open database file: ${errnoText(e)}`);
  }
  try {
    const data = JSON.parse(text) as Partial<Data>;
    if (!data || typeof data !== 'object' || !data.entries) throw new Error('not ours');
    return { ...empty, ...data };
  } catch {
    // SQLite's SQLITE_NOTADB, met by the first statement on a file that is not a database.
    throw new DataStoreError('datastore-sql: file is not a database');
  }
}

export const idString = (id: SpiffeIdMsg | undefined | null): string =>
  id ? `spiffe://${id.trust_domain}${id.path}` : '';

export function idMsg(id: string): SpiffeIdMsg {
  const m = /^spiffe:\/\/([^/]+)(\/.*)?$/.exec(id);
  if (!m) throw new Error(`scheme is missing or invalid: ${JSON.stringify(id)}`);
  return { trust_domain: m[1] as string, path: m[2] ?? '' };
}

const selectorKey = (s: SelectorMsg[]) =>
  s
    .map((x) => `${x.type}:${x.value}`)
    .sort()
    .join('\n');

/**
 * The simulated datastore: join tokens, entries and attested agents, persisted as JSON at the configured
 * datastore path (real SPIRE uses SQLite there; only this process reads the file, so the format is ours).
 */
export class DataStore {
  #data: Data;

  /** Opens the datastore file; throws DataStoreError when it is unreadable or not a datastore. */
  constructor(readonly path: string) {
    this.#data = load(path);
  }

  #save(): void {
    writeFileAtomic(this.path, JSON.stringify(this.#data));
  }

  createToken(token: string, expiresAt: number): void {
    this.#data.tokens[token] = expiresAt;
    this.#save();
  }

  /** Removes a token and returns its expiry, or undefined when it did not exist (SPIRE deletes before checking). */
  takeToken(token: string): number | undefined {
    const expiresAt = this.#data.tokens[token];
    if (expiresAt === undefined) return undefined;
    delete this.#data.tokens[token];
    this.#save();
    return expiresAt;
  }

  /** X.509 roots of the trust domain bundle, oldest first. */
  bundle(): Buffer[] {
    return this.#data.bundle.map((b) => Buffer.from(b, 'base64'));
  }

  /** AppendBundle: adds roots not yet present; returns the whole bundle. */
  appendBundle(roots: Buffer[]): Buffer[] {
    const have = new Set(this.#data.bundle);
    const add = roots.map((r) => r.toString('base64')).filter((r) => !have.has(r));
    if (add.length) {
      this.#data.bundle.push(...add);
      this.#save();
    }
    return this.bundle();
  }

  /** PruneBundle: drops roots whose expiry passed before `before`, but never the last one (SPIRE refuses that). */
  pruneBundle(keep: (root: Buffer) => boolean): void {
    const kept = this.#data.bundle.filter((b) => keep(Buffer.from(b, 'base64')));
    if (kept.length === this.#data.bundle.length || kept.length === 0) return;
    this.#data.bundle = kept;
    this.#save();
  }

  journal(): JournalEntry[] {
    return this.#data.caJournal.map((e) => ({ ...e }));
  }

  saveJournal(entries: JournalEntry[]): void {
    this.#data.caJournal = entries;
    this.#save();
  }

  putAgent(agent: AttestedAgent): void {
    this.#data.agents[agent.spiffeId] = agent;
    this.#save();
  }

  agent(spiffeId: string): AttestedAgent | undefined {
    return this.#data.agents[spiffeId];
  }

  agents(): AttestedAgent[] {
    return Object.values(this.#data.agents);
  }

  entries(): readonly EntryMsg[] {
    return this.#data.entries;
  }

  entry(id: string): EntryMsg | undefined {
    return this.#data.entries.find((e) => e.id === id);
  }

  /** An existing entry with the same SPIFFE ID, parent and selectors (SPIRE's "similar entry"). */
  similar(e: Pick<EntryMsg, 'spiffe_id' | 'parent_id' | 'selectors'>): EntryMsg | undefined {
    const key = selectorKey(e.selectors);
    return this.#data.entries.find(
      (x) =>
        idString(x.spiffe_id) === idString(e.spiffe_id) &&
        idString(x.parent_id) === idString(e.parent_id) &&
        selectorKey(x.selectors) === key,
    );
  }

  createEntry(e: Omit<EntryMsg, 'id' | 'revision_number' | 'created_at'> & { id?: string }): EntryMsg {
    const entry: EntryMsg = {
      ...e,
      id: e.id || randomUUID(),
      revision_number: 0,
      created_at: Math.floor(Date.now() / 1000),
    };
    this.#data.entries.push(entry);
    this.#save();
    return entry;
  }

  replaceEntry(entry: EntryMsg): void {
    const i = this.#data.entries.findIndex((e) => e.id === entry.id);
    this.#data.entries[i] = entry;
    this.#save();
  }

  deleteEntry(id: string): boolean {
    const before = this.#data.entries.length;
    this.#data.entries = this.#data.entries.filter((e) => e.id !== id);
    if (before === this.#data.entries.length) return false;
    this.#save();
    return true;
  }

  /**
   * Entries an agent may mint: those parented to it, to node aliases that it matches, and, transitively, their
   * descendants — how SPIRE authorises entries for an agent.
   */
  authorizedEntries(agentId: string, nodeSelectors: SelectorMsg[], serverId: string): EntryMsg[] {
    const have = new Set(nodeSelectors.map((s) => `${s.type}:${s.value}`));
    const parents = new Set([agentId]);
    for (const e of this.#data.entries) {
      const isAlias = idString(e.parent_id) === serverId;
      if (isAlias && e.selectors.every((s) => have.has(`${s.type}:${s.value}`)))
        parents.add(idString(e.spiffe_id));
    }
    const out: EntryMsg[] = [];
    const seen = new Set<string>();
    let grew = true;
    while (grew) {
      grew = false;
      for (const e of this.#data.entries) {
        if (seen.has(e.id) || !parents.has(idString(e.parent_id))) continue;
        seen.add(e.id);
        out.push(e);
        parents.add(idString(e.spiffe_id));
        grew = true;
      }
    }
    return out;
  }
}
