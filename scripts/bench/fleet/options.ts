// `npm run bench:fleet -- [options]`: the fleet's size, the server's rate and the outage.
import { parseArgs } from 'node:util';

export interface FleetBenchOptions {
  pollers: number;
  rate: number;
  burst: number;
  outageAtS: number;
  outageS: number;
  outageKind: '503' | 'down';
  outageRetryAfterS: number;
  scope: 'join-tokens' | 'all';
  auth: 'login' | 'bearer';
  target: string;
  seed: number;
  runs: number;
  timeoutS: number;
  svg: string;
  json: string | null;
  smoke: boolean;
}

export const USAGE = `usage: npm run bench:fleet -- [--pollers N] [--rate R] [--burst B] [--outage-at S] [--outage S]
  [--outage-kind 503|down (sim: 503, broker: down)] [--outage-retry-after S] [--scope join-tokens|all] [--auth login|bearer]
  [--target sim|broker] [--seed N] [--runs N] [--timeout S] [--svg PATH] [--json PATH] [--smoke]`;

const SMOKE = { pollers: 40, rate: 40, outageS: 1 };

function number(values: Record<string, unknown>, key: string, dflt: number, min: number): number {
  const raw = values[key];
  if (raw === undefined) return dflt;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min) {
    throw new Error(`Expected \`--${key}\` to be a number >= ${min}, got ${JSON.stringify(raw)}`);
  }
  return n;
}

function choice<T extends string>(values: Record<string, unknown>, key: string, allowed: readonly T[]): T {
  const raw = (values[key] as string | undefined) ?? allowed[0];
  if (!allowed.includes(raw as T)) {
    throw new Error(`Expected \`--${key}\` to be one of ${allowed.join(', ')}, got ${JSON.stringify(raw)}`);
  }
  return raw as T;
}

/** Every problem with the arguments is thrown as one message naming the flag. */
export function parseOptions(argv: string[]): FleetBenchOptions {
  const str = { type: 'string' } as const;
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      pollers: str,
      rate: str,
      burst: str,
      'outage-at': str,
      outage: str,
      'outage-kind': str,
      'outage-retry-after': str,
      scope: str,
      auth: str,
      target: str,
      seed: str,
      runs: str,
      timeout: str,
      svg: str,
      json: str,
      smoke: { type: 'boolean' },
    },
  });
  const smoke = values.smoke === true;
  const pollers = Math.round(number(values, 'pollers', smoke ? SMOKE.pollers : 1000, 1));
  const rate = number(values, 'rate', smoke ? SMOKE.rate : 100, 0.1);
  const ideal = pollers / rate;
  const target = choice(values, 'target', ['sim', 'broker'] as const);
  // The broker's outage is its process stopped and started again (target-broker.ts says why not a 503).
  const kinds = target === 'broker' ? (['down', '503'] as const) : (['503', 'down'] as const);
  return {
    pollers,
    rate,
    // A tenth of a second's worth: a bucket of a full second would hand out R tokens for free twice a run.
    burst: number(values, 'burst', Math.max(1, Math.round(rate / 10)), 1),
    // A third of the way through the ideal run: part of the fleet is enrolled when the admin API goes away.
    outageAtS: number(values, 'outage-at', Math.round((ideal / 3) * 10) / 10, 0),
    outageS: number(values, 'outage', smoke ? SMOKE.outageS : 10, 0),
    outageKind: choice(values, 'outage-kind', kinds),
    outageRetryAfterS: Math.round(number(values, 'outage-retry-after', 0, 0)),
    scope: choice(values, 'scope', ['join-tokens', 'all'] as const),
    auth: choice(values, 'auth', ['login', 'bearer'] as const),
    target,
    seed: Math.round(number(values, 'seed', 1, 0)),
    runs: Math.round(number(values, 'runs', 1, 1)),
    timeoutS: number(values, 'timeout', smoke ? 60 : 600, 1),
    svg: (values.svg as string | undefined) ?? 'dist/bench/fleet.svg',
    json: (values.json as string | undefined) ?? null,
    smoke,
  };
}
