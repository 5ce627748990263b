// The P6 figures of one run, and the request rate over time, from what the pollers recorded, what node:http saw them
// send, and what the server says it answered.
import type { PollerRecord } from './poller.js';
import type { RequestLog } from './requests.js';
import type { ServerView } from './target.js';

export interface RunSetup {
  pollers: number;
  /** R, join tokens a second the server admits. */
  rate: number;
  burst: number;
  /** Epoch ms when the fleet started, and when the outage really began and ended. */
  t0: number;
  outage: { from: number; to: number } | null;
}

export interface Series {
  bucketMs: number;
  /** Per bucket, from t0. */
  sent: number[];
  /** Answers per bucket by kind: 'token' (201), 'throttled' (429), 'outage' (503 or refused), 'login', 'other'. */
  answers: Record<AnswerKind, number[]>;
  /** Pollers holding a token at the end of each bucket. */
  holding: number[];
}

export type AnswerKind = 'token' | 'throttled' | 'outage' | 'login' | 'other';
export const ANSWER_KINDS: readonly AnswerKind[] = ['token', 'throttled', 'outage', 'login', 'other'];

export interface Wait {
  failures: number;
  retryAfter: boolean;
  count: number;
  minMs: number;
  medianMs: number;
  maxMs: number;
}

export interface Figures {
  setup: RunSetup;
  /** From t0 until the last poller held its token; null when some never did. */
  allHoldMs: number | null;
  /** The same without the outage: the time the server could have been issuing. */
  upMs: number | null;
  /** N/R. */
  idealMs: number;
  /** P6: upMs ÷ (N/R), goal ≤ 1.1. */
  timeRatio: number | null;
  /** Requests the pollers sent, by path kind, and by when (before, during, after the outage). */
  requests: { total: number; login: number; joinTokens: number; other: number };
  byPhase: { before: number; during: number; after: number };
  /** P6: requests ÷ N, goal ≤ 1.3. */
  requestsPerPoller: number;
  joinTokenRequestsPerPoller: number;
  /** P6: pollers that got two tokens, goal 0 — as the pollers counted them, and as the server minted them. */
  twoTokens: number;
  twoMinted: number | null;
  minted: number | null;
  received: number;
  withoutToken: number;
  /** Token requests per poller (acquisitions of the upstream agent): median and max. */
  attempts: { median: number; p90: number; max: number };
  /** The waits the machine chose after the k-th consecutive failure, with and without a Retry-After. */
  waits: Wait[];
  /**
   * The same two ratios for the recovery alone: the pollers still without a token when the outage ended, from
   * its end until the last of them holds one, and the requests sent from its end. Null without an outage or when
   * everyone was served before it ended.
   */
  recovery: {
    pending: number;
    ms: number;
    idealMs: number;
    timeRatio: number;
    requests: number;
    requestsPerPoller: number;
  } | null;
  /** Where the figures' answers came from. */
  answersFrom: 'server' | 'client';
}

// Math.max(...xs) overflows the stack on long arrays.
const maxOf = (xs: number[], start = Number.NEGATIVE_INFINITY) => xs.reduce((m, x) => Math.max(m, x), start);

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? Number.NaN;
};

function kindOf(route: string, status: number | string): AnswerKind {
  if (route === 'login' || route.startsWith('/auth/')) return 'login';
  if (status === 201 || status === 200) return 'token';
  if (status === 429) return 'throttled';
  if (status === 503 || typeof status === 'string') return 'outage';
  return 'other';
}

/** Buckets of `bucketMs` from t0 to the last thing that happened. */
export function series(
  setup: RunSetup,
  records: PollerRecord[],
  log: RequestLog,
  view: ServerView | null,
  bucketMs: number,
): Series {
  const answers: [number, AnswerKind][] = view
    ? view.answers.map(([at, route, status]) => [at, kindOf(route, status)])
    : log.outcomes.map(([at, path, status]) => [at, kindOf(path, status)]);
  // Refused connections never reach the server: only the pollers know of them.
  if (view) {
    for (const [at, path, status] of log.outcomes) {
      if (typeof status === 'string') answers.push([at, kindOf(path, status)]);
    }
  }
  const tokens = records.flatMap((r) => r.tokensAt.slice(0, 1));
  const last = maxOf([...answers.map((a) => a[0]), ...tokens, ...log.sent.map((s) => s[0])], setup.t0);
  const n = Math.max(1, Math.ceil((last - setup.t0 + 1) / bucketMs));
  const at = (t: number) => Math.min(n - 1, Math.max(0, Math.floor((t - setup.t0) / bucketMs)));
  const zeros = () => new Array<number>(n).fill(0);
  const out: Series = {
    bucketMs,
    sent: zeros(),
    answers: Object.fromEntries(ANSWER_KINDS.map((k) => [k, zeros()])) as Series['answers'],
    holding: zeros(),
  };
  for (const [t] of log.sent) out.sent[at(t)] = (out.sent[at(t)] ?? 0) + 1;
  for (const [t, kind] of answers) out.answers[kind][at(t)] = (out.answers[kind][at(t)] ?? 0) + 1;
  const got = zeros();
  for (const t of tokens) got[at(t)] = (got[at(t)] ?? 0) + 1;
  let sum = 0;
  for (let i = 0; i < n; i++) {
    sum += got[i] ?? 0;
    out.holding[i] = sum;
  }
  return out;
}

export function figures(
  setup: RunSetup,
  records: PollerRecord[],
  log: RequestLog,
  view: ServerView | null,
): Figures {
  const firstTokens = records.map((r) => r.tokensAt[0]);
  const done = firstTokens.filter((t): t is number => t !== undefined);
  const withoutToken = records.length - done.length;
  const lastAt = withoutToken === 0 && done.length > 0 ? maxOf(done) : null;
  const allHoldMs = lastAt === null ? null : lastAt - setup.t0;
  const o = setup.outage;
  const overlap = o && lastAt !== null ? Math.max(0, Math.min(o.to, lastAt) - o.from) : 0;
  const upMs = allHoldMs === null ? null : allHoldMs - overlap;
  const idealMs = (setup.pollers / setup.rate) * 1000;
  const requests = { total: log.sent.length, login: 0, joinTokens: 0, other: 0 };
  const byPhase = { before: 0, during: 0, after: 0 };
  for (const [t, path] of log.sent) {
    if (path.startsWith('/auth/')) requests.login++;
    else if (path === '/api/admin/spire/join-tokens') requests.joinTokens++;
    else requests.other++;
    if (!o || t < o.from) byPhase.before++;
    else if (t < o.to) byPhase.during++;
    else byPhase.after++;
  }
  const minted = view ? Object.values(view.minted) : null;
  const pending = o ? firstTokens.filter((t) => t === undefined || t >= o.to).length : 0;
  const recovery =
    o && pending > 0 && lastAt !== null
      ? {
          pending,
          ms: lastAt - o.to,
          idealMs: (pending / setup.rate) * 1000,
          timeRatio: (lastAt - o.to) / ((pending / setup.rate) * 1000),
          requests: byPhase.after,
          requestsPerPoller: byPhase.after / pending,
        }
      : null;
  const attempts = records.map((r) => r.attempts.length);
  const chosen = new Map<string, { failures: number; retryAfter: boolean; ms: number[] }>();
  for (const r of records) {
    let failures = 0;
    for (const a of r.attempts) {
      if (a.waitMs === null) {
        failures = 0;
        continue;
      }
      failures++;
      const key = `${failures}/${a.retryAfterMs !== null}`;
      const group = chosen.get(key) ?? { failures, retryAfter: a.retryAfterMs !== null, ms: [] };
      group.ms.push(a.waitMs);
      chosen.set(key, group);
    }
  }
  const waits = [...chosen.values()]
    .map((g) => ({
      failures: g.failures,
      retryAfter: g.retryAfter,
      count: g.ms.length,
      minMs: -maxOf(g.ms.map((x) => -x)),
      medianMs: quantile(g.ms, 0.5),
      maxMs: maxOf(g.ms),
    }))
    .sort((a, b) => a.failures - b.failures || Number(b.retryAfter) - Number(a.retryAfter));
  return {
    setup,
    allHoldMs,
    upMs,
    idealMs,
    timeRatio: upMs === null ? null : upMs / idealMs,
    requests,
    byPhase,
    requestsPerPoller: requests.total / setup.pollers,
    joinTokenRequestsPerPoller: requests.joinTokens / setup.pollers,
    twoTokens: records.filter((r) => r.tokensAt.length > 1).length,
    twoMinted: minted ? minted.filter((m) => m > 1).length : null,
    minted: minted ? minted.reduce((a, b) => a + b, 0) : null,
    received: records.reduce((a, r) => a + r.tokensAt.length, 0),
    withoutToken,
    attempts: { median: quantile(attempts, 0.5), p90: quantile(attempts, 0.9), max: maxOf(attempts, 0) },
    waits,
    recovery,
    answersFrom: view ? 'server' : 'client',
  };
}
