// What one simulated poller needs besides the daemon's own modules: its own seeded random draws, and in-memory
// stand-ins for the files the daemon keeps (the token file, the burned-token list), so a fleet of a thousand
// touches no disk.
import { randomUUID } from 'node:crypto';
import { pino } from 'pino';
import type { Logger } from '../../../src/observability/logger.js';
import type { BurnedTokens } from '../../../src/token/burned.js';
import { fingerprint } from '../../../src/token/fingerprint.js';
import type { TokenSource } from '../../../src/token/sources.js';
import type { StoredToken, TokenStore } from '../../../src/token/store.js';

/** mulberry32 seeded from (seed, poller): a uniform draw in [0, 1) per call, the same sequence on every run. */
export function seededRandom(seed: number, poller: number): () => number {
  let a = (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(poller + 1, 0xc2b2ae35)) >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** The token file, in memory: what AgentTokens writes, reads back and consumes. */
export function memoryTokenStore(name: string): TokenStore {
  let stored: StoredToken | undefined;
  return {
    path: `memory:${name}`,
    read: async () => stored,
    async write({ token, expiresAt }) {
      stored = { token, fingerprint: fingerprint(token), ...(expiresAt ? { expiresAt } : {}) };
    },
    async consume() {
      stored = undefined;
    },
  };
}

/** The burned-token list, in memory. */
export function memoryBurnedTokens(): BurnedTokens {
  const all = new Set<string>();
  return {
    has: (fp) => all.has(fp),
    all,
    async add(fp) {
      all.add(fp);
    },
  };
}

/** The daemon's logger with nothing enabled: a thousand pollers' warnings would only cost time. */
export const silentLogger: Logger = pino({ enabled: false });

/**
 * The downstream agent's token source: the nested server's Agent API, which lives on the poller's own host and is
 * not under test, answered at once.
 */
export function localNestedSource(now: () => number): TokenSource {
  return {
    name: 'nested-server',
    async acquire() {
      const token = randomUUID();
      return {
        token,
        source: 'nested-server',
        fingerprint: fingerprint(token),
        expiresAt: new Date(now() + 600_000),
      };
    },
  };
}
