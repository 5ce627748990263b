// What /status and the expiry gauges show of each child's identity: the agents' SVIDs as stored in their data
// dirs, and the nested server's CA as it presents it. Read after each child is ready and refreshed periodically
// (SVIDs rotate at half-life; a stale expiry would make the expiry alert fire falsely).
import { agentLayout, type Layout } from '../config/layout.js';
import type { Config } from '../config/types.js';
import type { IdentityReport } from '../observability/status.js';
import { inspectIdentity } from '../spire/identity.js';
import { nestedServerHost } from '../spire/render-agent.js';
import { peekServerIdentity } from '../spire/server-identity.js';
import type { Child } from './machine-types.js';
import type { Observer } from './observe.js';

export class IdentityReports {
  readonly #reports: Partial<Record<Child, IdentityReport>> = {};
  readonly #config: () => Config;
  readonly #layout: Layout;
  readonly #observer: Observer;
  readonly #now: () => number;

  constructor(config: () => Config, layout: Layout, observer: Observer, now: () => number) {
    this.#config = config;
    this.#layout = layout;
    this.#observer = observer;
    this.#now = now;
  }

  get all(): Readonly<Partial<Record<Child, IdentityReport>>> {
    return this.#reports;
  }

  /** Reads one child's identity; resolves with its expiry (epoch ms) or null when it cannot be read. */
  async read(child: Child): Promise<number | null> {
    const found = await this.#lookup(child).catch(() => undefined);
    const expiresAt = found?.expiresAt ?? null;
    this.#reports[child] = { spiffeId: found?.spiffeId ?? null, expiresAt };
    this.#observer.identityExpiry(child, expiresAt);
    return expiresAt;
  }

  async #lookup(child: Child): Promise<{ spiffeId?: string; expiresAt: number | null }> {
    const config = this.#config();
    if (child === 'nested-server') {
      const found = await peekServerIdentity(nestedServerHost(config), config.nestedServer.bindPort);
      return { spiffeId: found.spiffeId, expiresAt: found.caExpiresAt.getTime() };
    }
    const agent = agentLayout(this.#layout, child);
    const found = await inspectIdentity(
      agent.dataDir,
      agent.keysDir,
      new Date(this.#now()),
      config.identitySafetyMarginSeconds,
    );
    return { spiffeId: found.spiffeId, expiresAt: found.expiresAt?.getTime() ?? null };
  }
}
