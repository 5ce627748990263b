// What /status and the expiry gauges show of each child's identity: the agents' SVIDs as stored in their data
// dirs, and the nested server's CA as it presents it. Read after each child is ready, and again when SPIRE
// rotates it (at half-life; a CA is activated at 5/6): a stale expiry would make the expiry alert fire falsely,
// and a timer of its own every minute would keep an idle daemon busy.
import { agentLayout, type Layout } from '../config/layout.js';
import type { Config } from '../config/types.js';
import type { IdentityReport } from '../observability/status.js';
import { inspectIdentity } from '../spire/identity.js';
import { nestedServerHost } from '../spire/render-agent.js';
import { peekServerIdentity } from '../spire/server-identity.js';
import type { Child } from './machine-types.js';
import type { Observer } from './observe.js';

// Rotation takes SPIRE a moment after the threshold (its rotators check every few seconds).
const ROTATION_SLACK_MS = 30_000;

/** When to look again at an identity issued at `issued` and expiring at `expires`: its next rotation point. */
export function nextLook(issued: number, expires: number, now: number): number | null {
  const life = expires - issued;
  const points = [issued + life / 2 + ROTATION_SLACK_MS, issued + (5 * life) / 6, expires + 1_000];
  return points.find((p) => p > now + 1_000) ?? null;
}

export class IdentityReports {
  readonly #reports: Partial<Record<Child, IdentityReport>> = {};
  readonly #lookAt: Partial<Record<Child, number | null>> = {};
  #timer: NodeJS.Timeout | undefined;
  #isReady: (child: Child) => boolean = () => false;
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

  /** Looks again at ready children's identities when each is due to rotate; `isReady` says which are up. */
  follow(isReady: (child: Child) => boolean): void {
    this.#isReady = isReady;
  }

  /** Stops following (at shutdown): no timer is left behind. */
  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#isReady = () => false;
  }

  /** Reads one child's identity; resolves with its expiry (epoch ms) or null when it cannot be read. */
  async read(child: Child): Promise<number | null> {
    const found = await this.#lookup(child).catch(() => undefined);
    const expiresAt = found?.expiresAt ?? null;
    this.#reports[child] = { spiffeId: found?.spiffeId ?? null, expiresAt };
    this.#observer.identityExpiry(child, expiresAt);
    const issued = found?.issuedAt ?? null;
    this.#lookAt[child] =
      issued !== null && expiresAt !== null ? nextLook(issued, expiresAt, this.#now()) : null;
    this.#plan();
    return expiresAt;
  }

  // One timer, for the earliest identity due.
  #plan(): void {
    clearTimeout(this.#timer);
    const due = Object.entries(this.#lookAt).filter((e): e is [Child, number] => typeof e[1] === 'number');
    const first = Math.min(...due.map(([, at]) => at));
    if (!Number.isFinite(first)) return;
    this.#timer = setTimeout(
      () => {
        for (const [child, at] of due) {
          if (at > first) continue;
          this.#lookAt[child] = null;
          if (this.#isReady(child)) void this.read(child);
        }
        this.#plan();
      },
      Math.min(2_147_000_000, Math.max(0, first - this.#now())),
    );
    this.#timer.unref();
  }

  async #lookup(
    child: Child,
  ): Promise<{ spiffeId?: string; expiresAt: number | null; issuedAt: number | null }> {
    const config = this.#config();
    if (child === 'nested-server') {
      const found = await peekServerIdentity(nestedServerHost(config), config.nestedServer.bindPort);
      return {
        spiffeId: found.spiffeId,
        expiresAt: found.caExpiresAt.getTime(),
        issuedAt: found.caIssuedAt.getTime(),
      };
    }
    const agent = agentLayout(this.#layout, child);
    const found = await inspectIdentity(
      agent.dataDir,
      agent.keysDir,
      new Date(this.#now()),
      config.identitySafetyMarginSeconds,
    );
    return {
      spiffeId: found.spiffeId,
      expiresAt: found.expiresAt?.getTime() ?? null,
      issuedAt: found.issuedAt?.getTime() ?? null,
    };
  }
}
