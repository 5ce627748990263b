import { EventEmitter } from 'node:events';
import { callUnary, services } from '../../../src/spire/proto.js';
import { goRpcError, scaled } from '../common/grpc.js';
import type { Log } from '../common/log.js';
import { SPIFFE_CHANNEL_OPTIONS, spiffeChannel } from '../common/tls.js';
import { createCsr, describe, generateKeyPair } from '../common/x509.js';
import type { EntryMsg } from '../server/datastore.js';
import type { AgentConfig } from './config.js';

/** A workload SVID the agent holds for one registration entry. */
export interface CachedSvid {
  entry: EntryMsg;
  chain: Buffer[];
  key: Buffer;
  expiresAt: number;
}

/**
 * The agent's entry and SVID cache: syncs authorized entries from the server every 5 s (SPIRE's default),
 * mints an SVID for each new or changed entry, and emits `update` whenever the set changes.
 */
export class SvidCache extends EventEmitter {
  #svids = new Map<string, CachedSvid>();
  #timer: NodeJS.Timeout | undefined;
  #syncing: Promise<void> | undefined;

  constructor(
    private readonly config: AgentConfig,
    private readonly identity: { svid: Buffer[]; key: Buffer; bundle: Buffer[] },
    private readonly log: Log,
  ) {
    super();
  }

  get bundle(): Buffer[] {
    return this.identity.bundle;
  }

  svids(): CachedSvid[] {
    return [...this.#svids.values()];
  }

  /** Runs the first sync now and then keeps syncing until `stop`. */
  async start(): Promise<void> {
    await this.sync();
    this.#timer = setInterval(() => void this.sync(), scaled(5_000));
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  sync(): Promise<void> {
    this.#syncing ??= this.#sync().finally(() => {
      this.#syncing = undefined;
    });
    return this.#syncing;
  }

  async #sync(): Promise<void> {
    const creds = spiffeChannel({
      roots: this.identity.bundle,
      expectId: `spiffe://${this.config.trustDomain}/spire/server`,
      client: { chain: this.identity.svid, key: this.identity.key },
    });
    const target = `${this.config.serverAddress}:${this.config.serverPort}`;
    const entryClient = new services.entry(target, creds, SPIFFE_CHANNEL_OPTIONS);
    const svidClient = new services.svid(target, creds, SPIFFE_CHANNEL_OPTIONS);
    try {
      const { entries } = await callUnary<{ entries: EntryMsg[] }>(entryClient, 'GetAuthorizedEntries', {});
      let changed = false;
      const live = new Set(entries.map((e) => e.id));
      for (const id of this.#svids.keys()) {
        if (!live.has(id)) {
          this.#svids.delete(id);
          changed = true;
        }
      }
      const now = Date.now() / 1000;
      const stale = entries.filter((e) => {
        const have = this.#svids.get(e.id);
        return !have || have.entry.revision_number !== e.revision_number || have.expiresAt - now < 60;
      });
      if (stale.length) {
        const keys = await Promise.all(stale.map(() => generateKeyPair()));
        const params = await Promise.all(
          stale.map(async (e, i) => ({ entry_id: e.id, csr: await createCsr(keys[i] as never) })),
        );
        const { results } = await callUnary<{
          results: { status: { code: number; message: string }; svid: { cert_chain: Buffer[] } | null }[];
        }>(svidClient, 'BatchNewX509SVID', { params });
        results.forEach((r, i) => {
          const entry = stale[i] as EntryMsg;
          if (r.status.code !== 0 || !r.svid) {
            this.log.warn('Failed to mint SVID', {
              entry_id: entry.id,
              error: r.status.message,
              subsystem_name: 'manager',
            });
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
      }
      if (changed) this.emit('update');
    } catch (err) {
      this.log.warn('Synchronization failed', { error: goRpcError(err as never), subsystem_name: 'manager' });
    } finally {
      entryClient.close();
      svidClient.close();
    }
  }
}
