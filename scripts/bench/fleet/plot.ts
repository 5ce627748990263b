// The run as a small hand-written SVG: the server's answers per 100 ms as stacked bars (scaled to a rate a
// second, so R is one line across), the outage as a band, and the pollers holding a token as a line.
import { ANSWER_KINDS, type AnswerKind, type Figures, type Series } from './figures.js';

const COLOURS: Record<AnswerKind, string> = {
  token: '#2a9d3f',
  throttled: '#f4a261',
  outage: '#d62828',
  login: '#8d99ae',
  other: '#7b2cbf',
};
const LABELS: Record<AnswerKind, string> = {
  token: '201 token',
  throttled: '429 throttled',
  outage: '503 / refused',
  login: 'login',
  other: 'other',
};

const esc = (t: string) => t.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** A round step for an axis reaching `max` in about `ticks` steps. */
function step(max: number, ticks: number): number {
  const raw = max / ticks;
  const pow = 10 ** Math.floor(Math.log10(raw));
  return ([1, 2, 5, 10].find((m) => m * pow >= raw) ?? 10) * pow;
}

export function plot(series: Series, f: Figures, title: string, subtitle: string): string {
  const W = 960;
  const H = 420;
  const m = { left: 64, right: 64, top: 80, bottom: 44 };
  const pw = W - m.left - m.right;
  const ph = H - m.top - m.bottom;
  const n = series.sent.length;
  const perSecond = 1000 / series.bucketMs;
  const stacks = Array.from({ length: n }, (_, i) =>
    ANSWER_KINDS.reduce((a, k) => a + (series.answers[k][i] ?? 0), 0),
  );
  const rateMax = Math.max(f.setup.rate * 1.2, ...stacks.map((x) => x * perSecond));
  const yStep = step(rateMax, 6);
  const yMax = Math.ceil(rateMax / yStep) * yStep;
  const seconds = (n * series.bucketMs) / 1000;
  const xStep = step(seconds, 12);
  const x = (sec: number) => m.left + (sec / seconds) * pw;
  const y = (rate: number) => m.top + ph - (rate / yMax) * ph;
  const yHold = (count: number) => m.top + ph - (count / f.setup.pollers) * ph;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="${m.left}" y="18" font-size="13" font-weight="bold">${esc(title)}</text>`,
    `<text x="${m.left}" y="34">${esc(subtitle)}</text>`,
  );
  const o = f.setup.outage;
  if (o) {
    const from = (o.from - f.setup.t0) / 1000;
    const to = (o.to - f.setup.t0) / 1000;
    out.push(
      `<rect x="${x(from).toFixed(1)}" y="${m.top}" width="${(x(to) - x(from)).toFixed(1)}" height="${ph}" fill="#fde2e2"/>`,
      `<text x="${x(from) + 4}" y="${m.top + 12}" fill="#a4161a">outage</text>`,
    );
  }
  for (let v = 0; v <= yMax; v += yStep) {
    out.push(
      `<line x1="${m.left}" x2="${m.left + pw}" y1="${y(v)}" y2="${y(v)}" stroke="#eee"/>`,
      `<text x="${m.left - 6}" y="${y(v) + 4}" text-anchor="end">${v}</text>`,
    );
  }
  for (let t = 0; t <= seconds; t += xStep) {
    out.push(`<text x="${x(t)}" y="${m.top + ph + 16}" text-anchor="middle">${t}</text>`);
  }
  const bw = pw / n;
  for (let i = 0; i < n; i++) {
    let base = 0;
    for (const k of ANSWER_KINDS) {
      const v = (series.answers[k][i] ?? 0) * perSecond;
      if (v === 0) continue;
      out.push(
        `<rect x="${(m.left + i * bw).toFixed(2)}" y="${y(base + v).toFixed(2)}" width="${Math.max(0.5, bw - 0.3).toFixed(2)}" height="${(y(base) - y(base + v)).toFixed(2)}" fill="${COLOURS[k]}"/>`,
      );
      base += v;
    }
  }
  const rY = y(f.setup.rate);
  out.push(
    `<line x1="${m.left}" x2="${m.left + pw}" y1="${rY}" y2="${rY}" stroke="#000" stroke-dasharray="5 4"/>`,
    `<text x="${m.left + pw - 4}" y="${rY - 4}" text-anchor="end">R = ${f.setup.rate}/s</text>`,
  );
  const points = series.holding.map((h, i) => `${(m.left + (i + 1) * bw).toFixed(1)},${yHold(h).toFixed(1)}`);
  out.push(
    `<polyline points="${m.left},${yHold(0)} ${points.join(' ')}" fill="none" stroke="#1d4ed8" stroke-width="2"/>`,
  );
  for (let q = 0; q <= 4; q++) {
    const c = Math.round((f.setup.pollers * q) / 4);
    out.push(`<text x="${m.left + pw + 6}" y="${yHold(c) + 4}" fill="#1d4ed8">${c}</text>`);
  }
  out.push(
    `<line x1="${m.left}" x2="${m.left}" y1="${m.top}" y2="${m.top + ph}" stroke="#333"/>`,
    `<line x1="${m.left}" x2="${m.left + pw}" y1="${m.top + ph}" y2="${m.top + ph}" stroke="#333"/>`,
    `<text x="${m.left + pw / 2}" y="${H - 8}" text-anchor="middle">seconds since the fleet started</text>`,
    `<text transform="translate(14 ${m.top + ph / 2}) rotate(-90)" text-anchor="middle">answers a second (100 ms bars)</text>`,
    `<text transform="translate(${W - 10} ${m.top + ph / 2}) rotate(90)" text-anchor="middle" fill="#1d4ed8">pollers holding a token</text>`,
  );
  let lx = m.left;
  for (const k of ANSWER_KINDS) {
    out.push(
      `<rect x="${lx}" y="${m.top - 20}" width="10" height="10" fill="${COLOURS[k]}"/>`,
      `<text x="${lx + 14}" y="${m.top - 11}">${LABELS[k]}</text>`,
    );
    lx += 24 + LABELS[k].length * 6.5;
  }
  const fig =
    `time ÷ (N/R) ${f.timeRatio === null ? '—' : f.timeRatio.toFixed(2)} (≤ 1.1) · requests ÷ N ${f.requestsPerPoller.toFixed(2)} (≤ 1.3)` +
    ` · two tokens ${f.twoTokens} (0)`;
  out.push(`<text x="${m.left}" y="50">${esc(fig)}</text>`, '</svg>');
  return `${out.join('\n')}\n`;
}
