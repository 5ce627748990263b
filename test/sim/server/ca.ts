import { join } from 'node:path';
import { goTime } from '../common/go-text.js';
import { scaled } from '../common/grpc.js';
import type { Log } from '../common/log.js';
import { writeFileAtomic } from '../common/store.js';
import {
  type Authority,
  authorityKeyId,
  createRootCA,
  describe,
  type KeyPair,
  subjectKeyId,
  toPem,
} from '../common/x509.js';
import {
  isEmpty,
  kmKeyId,
  loadSlots,
  type Slot,
  shouldActivateNext,
  shouldPrepareNext,
} from './ca-journal.js';
import type { ServerConfig } from './config.js';
import type { DataStore, JournalEntry } from './datastore.js';
import type { ServerKeyManager } from './keys.js';
import { issueServerSvid, type ServerTls } from './server-svid.js';

/** The server's signing state: the CA that signs SVIDs, the roots agents trust, and its own TLS identity. */
export interface CaState {
  authority: Authority;
  /** CA chain to present above SVIDs: empty for a root CA, the upstream chain (intermediate first) when nested. */
  chain: Buffer[];
  /** The trust bundle: every X.509 authority still in the datastore, older ones included. */
  roots: Buffer[];
  tls: ServerTls;
}

/** Asks the UpstreamAuthority to sign a CA for `keys`: the chain (new CA first) and the upstream roots. */
export type MintUpstream = (keys: KeyPair) => Promise<{ chain: Buffer[]; roots: Buffer[] }>;

const JOURNAL_CAP = 10;
const ROTATE_INTERVAL_MS = 10_000;
const BUNDLE_SAFETY_MS = 24 * 3600 * 1000;

/**
 * SPIRE's CA manager and rotator (pkg/server/ca/manager, pkg/server/ca/rotator): at start the active CA of the
 * journal is reused while valid and outside its activation window, so a nested server does not ask upstream
 * again; otherwise a CA is prepared (self-signed, or minted upstream) and activated. Every 10 s the next CA is
 * prepared at half the lifetime and activated at five sixths. Old roots stay in the bundle until 24 h past
 * their expiry.
 */
export class CaManager {
  #current!: Slot;
  #next!: Slot;
  #entries: JournalEntry[] = [];
  #state: CaState | undefined;
  #timer: NodeJS.Timeout | undefined;
  #listeners = new Set<(s: CaState) => void>();
  readonly #log: Log;

  private constructor(
    private readonly config: ServerConfig,
    private readonly store: DataStore,
    private readonly km: ServerKeyManager,
    log: Log,
    private readonly mintUpstream: MintUpstream | undefined,
  ) {
    this.#log = log.with({ subsystem_name: 'ca_manager' });
  }

  /** NewManager followed by rotator.Initialize; rejects with the error the server dies of. */
  static async start(
    config: ServerConfig,
    store: DataStore,
    km: ServerKeyManager,
    log: Log,
    mintUpstream?: MintUpstream,
  ): Promise<CaManager> {
    const m = new CaManager(config, store, km, log, mintUpstream);
    const now = Date.now();
    store.pruneBundle((root) => describe(root).notAfter.getTime() > now - BUNDLE_SAFETY_MS);
    const loaded = loadSlots(store, km, Boolean(mintUpstream), m.#log);
    m.#current = loaded.current;
    m.#next = loaded.next;
    m.#entries = loaded.entries;
    if (!isEmpty(m.#current) && !shouldActivateNext(m.#current, now)) await m.#activate();
    await m.rotate(true);
    return m;
  }

  get state(): CaState {
    return this.#state as CaState;
  }

  onChange(listener: (s: CaState) => void): void {
    this.#listeners.add(listener);
  }

  /** Starts the rotator's 10 s ticker (scaled); it does not keep the process alive. */
  runRotator(): void {
    this.#timer = setInterval(() => void this.rotate(false), scaled(ROTATE_INTERVAL_MS));
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  /** rotator.rotateX509CA; failures are logged, and fatal only while there is no active CA. */
  async rotate(initial: boolean): Promise<void> {
    try {
      const now = Date.now();
      if (isEmpty(this.#current)) {
        await this.#prepare();
        await this.#activate();
      }
      if (isEmpty(this.#next) && shouldPrepareNext(this.#current, now)) await this.#prepare();
      if (shouldActivateNext(this.#current, now)) await this.#rotateSlots();
      // The server SVID rotator re-signs its own SVID past half of its lifetime.
      const tls = this.#state?.tls;
      if (tls && Date.now() > tls.notAfter - (this.config.defaultX509SvidTtlSeconds * 1000) / 2) {
        await this.#publish();
      }
    } catch (err) {
      this.#log.error('Unable to rotate X509 CA', { error: (err as Error).message });
      if (initial || isEmpty(this.#current)) throw err;
    }
  }

  async #prepare(): Promise<void> {
    const slot = isEmpty(this.#current) ? this.#current : this.#next;
    this.#log.debug('Preparing X509 CA', { slot: slot.id });
    slot.ca = undefined;
    slot.status = 'OLD';
    const issuedAt = Date.now();
    const keys = await this.km.generate(kmKeyId(slot.id));
    let cert: Buffer;
    let upstreamChain: Buffer[] = [];
    if (this.mintUpstream) {
      const minted = await this.mintUpstream(keys);
      cert = minted.chain[0] as Buffer;
      upstreamChain = minted.chain;
      this.store.appendBundle(minted.roots);
    } else {
      cert = (await createRootCA(this.config.trustDomain, this.config.caTtlSeconds, keys)).cert;
      this.store.appendBundle([cert]);
    }
    const notAfter = describe(cert).notAfter.getTime();
    slot.ca = {
      cert,
      key: keys.pkcs8,
      upstreamChain,
      issuedAt,
      notAfter,
      authorityId: subjectKeyId(cert),
      upstreamAuthorityId: authorityKeyId(cert),
    };
    slot.status = 'PREPARED';
    this.#entries.push({
      slotId: slot.id,
      issuedAt: Math.floor(issuedAt / 1000),
      notAfter: Math.floor(notAfter / 1000),
      certificate: cert.toString('base64'),
      upstreamChain: upstreamChain.map((c) => c.toString('base64')),
      status: 'PREPARED',
      authorityId: slot.ca.authorityId,
      upstreamAuthorityId: slot.ca.upstreamAuthorityId,
    });
    this.#entries = this.#entries.slice(-JOURNAL_CAP);
    this.store.saveJournal(this.#entries);
    this.#rootsChanged();
    this.#log.info('X509 CA prepared', {
      expiration: goTime(new Date(notAfter)),
      issued_at: goTime(new Date(issuedAt), true),
      local_authority_id: slot.ca.authorityId,
      self_signed: !this.mintUpstream,
      slot: slot.id,
      upstream_authority_id: slot.ca.upstreamAuthorityId,
    });
  }

  /** A prepared CA's root is in the bundle before it signs anything: hand the new bundle out at once. */
  #rootsChanged(): void {
    if (!this.#state) return;
    this.#state = { ...this.#state, roots: this.store.bundle() };
    this.#writeBundle();
    for (const l of this.#listeners) l(this.#state);
  }

  // Not SPIRE's: the simulator's convenience copy of what `spire-server bundle show` prints.
  #writeBundle(): void {
    const pem = this.store
      .bundle()
      .map((r) => toPem(r))
      .join('');
    writeFileAtomic(join(this.config.dataDir, 'bundle.pem'), pem, 0o644);
  }

  #setStatus(authorityId: string, status: JournalEntry['status']): void {
    const entry = [...this.#entries].reverse().find((e) => e.authorityId === authorityId);
    if (entry) entry.status = status;
    this.store.saveJournal(this.#entries);
  }

  async #activate(): Promise<void> {
    const ca = this.#current.ca;
    if (!ca) return;
    this.#log.info('X509 CA activated', {
      expiration: goTime(new Date(ca.notAfter)),
      issued_at: goTime(new Date(ca.issuedAt)),
      local_authority_id: ca.authorityId,
      slot: this.#current.id,
      upstream_authority_id: ca.upstreamAuthorityId,
    });
    this.#current.status = 'ACTIVE';
    this.#setStatus(ca.authorityId, 'ACTIVE');
    this.#log.debug('Successfully rotated X.509 CA', {
      trust_domain_id: `spiffe://${this.config.trustDomain}`,
      ttl: (ca.notAfter - Date.now()) / 1000,
    });
    await this.#publish();
  }

  async #rotateSlots(): Promise<void> {
    [this.#current, this.#next] = [this.#next, this.#current];
    const old = this.#next.ca;
    this.#next.ca = undefined;
    this.#next.status = 'OLD';
    if (old) this.#setStatus(old.authorityId, 'OLD');
    await this.#activate();
  }

  /** Re-signs the server's own SVID under the active CA and hands the new state to listeners. */
  async #publish(): Promise<void> {
    const ca = this.#current.ca;
    if (!ca) return;
    const authority = { cert: ca.cert, key: ca.key };
    const tls = await issueServerSvid(this.config, authority, ca.upstreamChain);
    this.#state = { authority, chain: ca.upstreamChain, roots: this.store.bundle(), tls };
    this.#writeBundle();
    for (const l of this.#listeners) l(this.#state);
  }
}
