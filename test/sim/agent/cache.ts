import { EventEmitter } from 'node:events';
import * as grpc from '@grpc/grpc-js';
import { callUnary, services } from '../../../src/spire/proto.js';
import { Backoff } from '../common/backoff.js';
import { probeServer } from '../common/dial.js';
import { goCode, goRpcError, scaled } from '../common/grpc.js';
import type { Log } from '../common/log.js';
import { SPIFFE_CHANNEL_OPTIONS, spiffeChannel } from '../common/tls.js';
import { createCsr, describe, generateKeyPair } from '../common/x509.js';
import type { EntryMsg } from '../server/datastore.js';
import { AgentError, isUnknownAuthority } from './attest.js';
import type { AgentConfig } from './config.js';

/** A workload SVID the agent holds for one registration entry. */
export interface CachedSvid {
  entry: EntryMsg;
  chain: Buffer[];
  key: Buffer;
  expiresAt: number;
}

interface Identity {
  svid: Buffer[];
  key: Buffer;
  bundle: Buffer[];
}

const SYNC_INTERVAL_MS = 5_000;
// The agent's server client dials with round_robin (pkg/agent/client/dial.go).
const LB = 'round_robin';

/**
 * The agent's cache manager (pkg/agent/manager): syncs authorized entries and the trust bundle from the server,
 * mints an SVID for each new or changed entry and emits `update` when anything changed. Failed syncs back off
 * (5 s × 1.5, up to 4 min); an unknown-authority failure is not recoverable without rebootstrap and stops the
 * agent, as runSynchronizer does with rebootstrap_mode "never".
 */
export class SvidCache extends EventEmitter {
  #svids = new Map<string, CachedSvid>();
  #timer: NodeJS.Timeout | undefined;
  #backoff = new Backoff(SYNC_INTERVAL_MS, { maxIntervalMs: 48 * SYNC_INTERVAL_MS });
  #syncing: Promise<void> | undefined;
  readonly #log: Log;

  constructor(
    private readonly config: AgentConfig,
    private readonly identity: Identity,
    log: Log,
    /** Persists a changed bundle (storage.StoreBundle). */
    private readonly storeBundle: (bundle: Buffer[]) => void,
  ) {
    super();
    this.#log = log.with({ subsystem_name: 'manager' });
  }

  get bundle(): Buffer[] {
    return this.identity.bundle;
  }

  svids(): CachedSvid[] {
    return [...this.#svids.values()];
  }

  /** manager.Initialize: the first sync, whose error decides whether the agent starts. */
  initialize(): Promise<void> {
    return this.sync();
  }

  /** runSynchronizer; `onFatal` receives the error the agent crashes with. */
  run(onFatal: (error: string) => void): void {
    const loop = (wait: number) => {
      this.#timer = setTimeout(async () => {
        try {
          await this.sync();
          this.#backoff.reset();
          let next = this.#backoff.next() ?? SYNC_INTERVAL_MS;
          if (this.#svids.size === 0) next = Math.min(next, SYNC_INTERVAL_MS);
          loop(next);
        } catch (err) {
          if (isUnknownAuthority(err as Error)) {
            this.#log.info('Synchronize failed, non-recoverable error', { error: (err as Error).message });
            onFatal(`failed to sync with SPIRE Server: ${(err as Error).message}`);
            return;
          }
          this.#log.error('Synchronize failed', { error: (err as Error).message });
          loop(this.#backoff.next() ?? SYNC_INTERVAL_MS);
        }
      }, scaled(wait));
      this.#timer.unref();
    };
    loop(Math.min(this.#backoff.next() ?? SYNC_INTERVAL_MS, SYNC_INTERVAL_MS));
  }

  stop(): void {
    clearTimeout(this.#timer);
  }

  /** One synchronization; rejects with the error text SPIRE's manager logs. */
  sync(): Promise<void> {
    this.#syncing ??= this.#sync().finally(() => {
      this.#syncing = undefined;
    });
    return this.#syncing;
  }

  async #sync(): Promise<void> {
    const tls = {
      roots: this.identity.bundle,
      expectId: `spiffe://${this.config.trustDomain}/spire/server`,
      client: { chain: this.identity.svid, key: this.identity.key },
    };
    const target = `${this.config.serverAddress}:${this.config.serverPort}`;
    // client.go withErrorFields: the error plus the status code and message of the gRPC status.
    const failed = (what: string, code: grpc.status, message: string) => {
      const text = goRpcError({ code, details: message });
      this.#log.error(`Failed to ${what}`, {
        error: text,
        status_code: goCode(code),
        status_message: message,
      });
      return new AgentError(`failed to ${what}: ${text}`, code);
    };
    const unreachable = await probeServer({ target, lb: LB, ...tls });
    if (unreachable) throw failed('fetch authorized entries', grpc.status.UNAVAILABLE, unreachable);
    const creds = spiffeChannel(tls);
    const entryClient = new services.entry(target, creds, SPIFFE_CHANNEL_OPTIONS);
    const bundleClient = new services.bundle(target, creds, SPIFFE_CHANNEL_OPTIONS);
    const svidClient = new services.svid(target, creds, SPIFFE_CHANNEL_OPTIONS);
    const call = async <T>(what: string, client: grpc.Client, method: string, req: object): Promise<T> => {
      try {
        return await callUnary<T>(client, method, req);
      } catch (err) {
        const e = err as grpc.ServiceError;
        throw failed(what, e.code, e.details ?? e.message);
      }
    };
    try {
      const { entries } = await call<{ entries: EntryMsg[] }>(
        'fetch authorized entries',
        entryClient,
        'GetAuthorizedEntries',
        {},
      );
      const bundle = await call<{ x509_authorities: { asn1: Buffer }[] }>(
        'fetch bundle',
        bundleClient,
        'GetBundle',
        {},
      );
      let changed = this.#updateBundle(bundle.x509_authorities.map((a) => a.asn1));
      const live = new Set(entries.map((e) => e.id));
      for (const id of this.#svids.keys()) {
        if (!live.has(id)) changed = this.#svids.delete(id);
      }
      const now = Date.now() / 1000;
      const stale = entries.filter((e) => {
        const have = this.#svids.get(e.id);
        return !have || have.entry.revision_number !== e.revision_number || have.expiresAt - now < 60;
      });
      if (stale.length)
        changed = (await this.#mint(stale, (m, c, r) => call(m, svidClient, c, r))) || changed;
      if (changed) this.emit('update');
    } finally {
      entryClient.close();
      bundleClient.close();
      svidClient.close();
    }
  }

  #updateBundle(roots: Buffer[]): boolean {
    const same =
      roots.length === this.identity.bundle.length &&
      roots.every((r, i) => r.equals(this.identity.bundle[i] as Buffer));
    if (same || roots.length === 0) return false;
    this.identity.bundle = roots;
    this.storeBundle(roots);
    return true;
  }

  async #mint(
    stale: EntryMsg[],
    call: <T>(what: string, method: string, req: object) => Promise<T>,
  ): Promise<boolean> {
    const keys = await Promise.all(stale.map(() => generateKeyPair()));
    const params = await Promise.all(
      stale.map(async (e, i) => ({ entry_id: e.id, csr: await createCsr(keys[i] as never) })),
    );
    const { results } = await call<{
      results: { status: { code: number; message: string }; svid: { cert_chain: Buffer[] } | null }[];
    }>('batch new X509 SVID(s)', 'BatchNewX509SVID', { params });
    let changed = false;
    results.forEach((r, i) => {
      const entry = stale[i] as EntryMsg;
      if (r.status.code !== 0 || !r.svid) {
        this.#log.warn('Failed to mint SVID', { entry_id: entry.id, error: r.status.message });
        return;
      }
      const expiresAt = Math.floor(describe(r.svid.cert_chain[0] as Buffer).notAfter.getTime() / 1000);
      this.#svids.set(entry.id, {
        entry,
        chain: r.svid.cert_chain,
        key: (keys[i] as { pkcs8: Buffer }).pkcs8,
        expiresAt,
      });
      changed = true;
    });
    return changed;
  }
}
