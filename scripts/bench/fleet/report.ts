// The run's figures as text: the three P6 figures against their goals, then the rate the server saw each second.
import { ANSWER_KINDS, type Figures, type Series } from './figures.js';
import type { FleetBenchOptions } from './options.js';

const s = (ms: number | null) => (ms === null ? '—' : `${(ms / 1000).toFixed(1)} s`);
const fixed = (x: number | null, d = 2) => (x === null ? '—' : x.toFixed(d));

export function describeSetup(o: FleetBenchOptions): string {
  const outage =
    o.outageS > 0
      ? `outage ${o.outageS} s (${o.outageKind === '503' ? `503${o.outageRetryAfterS ? `, Retry-After ${o.outageRetryAfterS}` : ''}` : 'no listener'}) from ${o.outageAtS} s`
      : 'no outage';
  return (
    `N=${o.pollers} pollers, R=${o.rate} tokens/s (burst ${o.burst}, counting ${o.scope}), ${outage}, ` +
    `auth ${o.auth}, target ${o.target}, seed ${o.seed}`
  );
}

/** The three P6 figures with what they are made of, for the whole run and for the recovery after the outage. */
export function figureTable(f: Figures): string {
  const mark = (ok: boolean | null) => (ok === null ? '?' : ok ? 'ok' : 'MISSED');
  const o = f.setup.outage;
  const outageMs = o ? o.to - o.from : 0;
  const r = f.recovery;
  const rows: string[][] = [
    [
      'time until all hold a token ÷ (N/R)',
      fixed(f.timeRatio),
      fixed(r?.timeRatio ?? null),
      '≤ 1.1',
      mark(f.timeRatio === null ? null : f.timeRatio <= 1.1),
      `all held one at ${s(f.allHoldMs)}, less the outage ${s(outageMs)} = ${s(f.upMs)}; N/R = ${s(f.idealMs)}` +
        (r ? `; after the outage ${s(r.ms)} for ${r.pending} pollers (${s(r.idealMs)} at R)` : '') +
        (f.withoutToken ? `; ${f.withoutToken} pollers never got one` : ''),
    ],
    [
      'requests sent ÷ N',
      fixed(f.requestsPerPoller),
      fixed(r?.requestsPerPoller ?? null),
      '≤ 1.3',
      mark(f.requestsPerPoller <= 1.3),
      `${f.requests.total} = ${f.requests.joinTokens} join-token (${fixed(f.joinTokenRequestsPerPoller)}/poller) + ` +
        `${f.requests.login} login${f.requests.other ? ` + ${f.requests.other} other` : ''}; ` +
        `before the outage ${f.byPhase.before}, during ${f.byPhase.during}, after ${f.byPhase.after}`,
    ],
    [
      'pollers that got two tokens',
      String(f.twoTokens),
      '',
      '0',
      mark(f.twoTokens === 0 && (f.twoMinted ?? 0) === 0),
      `received ${f.received}; the server minted ${f.minted ?? '?'}` +
        (f.twoMinted === null ? '' : `, two or more for ${f.twoMinted} pollers`),
    ],
  ];
  const head = ['P6 figure', 'run', 'after outage', 'goal', '', ''];
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]?.length ?? 0)));
  const line = (row: string[]) =>
    row
      .map((c, i) =>
        i === 1 || i === 2 ? c.padStart(w[i] ?? 0) : i === row.length - 1 ? c : c.padEnd(w[i] ?? 0),
      )
      .join('  ')
      .trimEnd();
  const a = f.attempts;
  return [
    line(head),
    ...rows.map(line),
    `token requests per poller (the machine's acquisitions): median ${a.median}, p90 ${a.p90}, max ${a.max}`,
  ].join('\n');
}

/** How long the machine chose to wait after each consecutive failure: where a stampede's second wave comes from. */
export function waitTable(f: Figures): string {
  const sec = (ms: number) => (ms / 1000).toFixed(2);
  const out = [
    "the machine's waits after the k-th consecutive failure of a poller (s)",
    '    k  Retry-After  retries     min  median     max',
  ];
  for (const w of f.waits) {
    out.push(
      `${String(w.failures).padStart(5)}  ${(w.retryAfter ? 'yes' : 'no').padEnd(11)}  ${String(w.count).padStart(7)}  ${sec(w.minMs).padStart(6)}  ${sec(w.medianMs).padStart(6)}  ${sec(w.maxMs).padStart(6)}`,
    );
  }
  return out.join('\n');
}

/** One row a second: what the pollers sent, what the server answered, how many hold a token. */
export function rateTable(series: Series, figuresFrom: Figures['answersFrom']): string {
  const per = Math.round(1000 / series.bucketMs);
  const head = ['t (s)', 'sent', '201', '429', '503/refused', 'login', 'other', 'holding'];
  const out = [
    `requests a second (answers as the ${figuresFrom === 'server' ? 'server counted them; refused connections as the pollers saw them' : 'pollers saw them'})`,
    head.map((h, i) => (i === 0 ? h.padStart(5) : h.padStart(Math.max(5, h.length)))).join(' '),
  ];
  const n = Math.ceil(series.sent.length / per);
  const sum = (xs: number[], i: number) => xs.slice(i * per, (i + 1) * per).reduce((a, b) => a + b, 0);
  let quiet = 0;
  for (let i = 0; i < n; i++) {
    const cells = [sum(series.sent, i), ...ANSWER_KINDS.map((k) => sum(series.answers[k], i))];
    const holding = series.holding[Math.min(series.holding.length - 1, (i + 1) * per - 1)] ?? 0;
    if (cells.every((c) => c === 0)) {
      quiet++;
      continue;
    }
    if (quiet > 0) out.push(`  … ${quiet} s without requests`);
    quiet = 0;
    const row = [
      String(i).padStart(5),
      ...[...cells, holding].map((c, j) => String(c).padStart(Math.max(5, head[j + 1]?.length ?? 5))),
    ];
    out.push(row.join(' '));
  }
  return out.join('\n');
}
