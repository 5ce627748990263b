// `join-token`'s command line, checked whole before anything is minted: every problem at once, each naming the
// flag as typed, the value and what is expected.
import { parseArgs } from 'node:util';
import { parseDuration } from '../common/duration.js';
import { parseHostPort } from '../config/checks.js';
import { DEFAULT_SPIRE_SERVER_SOCKET } from '../config/defaults.js';
import { parseSpiffeId } from '../spire/spiffe-id.js';
import { DEFAULT_PRUNE_GRACE_SECONDS } from '../spire/stale-entries.js';
import type { AdminAuth } from '../token/admin-options.js';
import { type JoinTokenRequest, joinTokenRequestProblems } from '../token/admin-request.js';
import { UsageError } from './io.js';

export const MAX_TTL_SECONDS = 86_400;

export type Reach =
  | { kind: 'admin-api'; url: string; auth: AdminAuth; caFile?: string; allowHttp: boolean }
  | { kind: 'socket'; socketPath: string }
  | {
      kind: 'tcp';
      address: string;
      trustDomain: string;
      identity: { workloadApiSocket: string } | { certFile: string; keyFile: string; bundleFile: string };
    };

export interface JoinTokenPlan {
  reach: Reach;
  request: JoinTokenRequest;
  output: { file: string; force: boolean } | null;
  tokenOnly: boolean;
  /** --prune: delete this tool's stale downstream entries for the same SPIFFE ID, past this grace. */
  prune: { graceSeconds: number } | null;
}

const OPTIONS = {
  url: { type: 'string' },
  'api-key-file': { type: 'string' },
  'bearer-file': { type: 'string' },
  username: { type: 'string' },
  'password-file': { type: 'string' },
  'ca-file': { type: 'string' },
  'allow-http': { type: 'boolean' },
  'socket-path': { type: 'string' },
  address: { type: 'string' },
  'trust-domain': { type: 'string' },
  'workload-api-socket': { type: 'string' },
  'cert-file': { type: 'string' },
  'key-file': { type: 'string' },
  'bundle-file': { type: 'string' },
  'spiffe-id': { type: 'string' },
  ttl: { type: 'string' },
  'register-downstream': { type: 'boolean' },
  'downstream-spiffe-id': { type: 'string' },
  selector: { type: 'string', multiple: true },
  'x509-ttl': { type: 'string' },
  'jwt-ttl': { type: 'string' },
  admin: { type: 'boolean' },
  prune: { type: 'boolean' },
  'prune-grace': { type: 'string' },
  output: { type: 'string', short: 'o' },
  force: { type: 'boolean' },
  'token-only': { type: 'boolean' },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; args: string[] }>>['values'];

function seconds(
  flag: string,
  value: string | undefined,
  problems: string[],
  max?: number,
): number | undefined {
  if (value === undefined) return undefined;
  const s = parseDuration(value);
  if (s === null || s < 1 || (max !== undefined && s > max)) {
    const bound = max === undefined ? '' : ` of at most ${max / 3600}h`;
    problems.push(
      `--${flag}: expected a duration${bound} such as 900, 15m or 4h, got ${JSON.stringify(value)}`,
    );
    return undefined;
  }
  return s;
}

function adminAuth(v: Values, problems: string[]): AdminAuth | undefined {
  const given = (['api-key-file', 'bearer-file', 'username'] as const).filter((k) => v[k] !== undefined);
  if (given.length !== 1) {
    problems.push(
      '--url: give one credential: --api-key-file, --bearer-file, or --username with --password-file',
    );
    return undefined;
  }
  if (v['api-key-file']) return { kind: 'api-key', keyFile: v['api-key-file'] };
  if (v['bearer-file']) return { kind: 'bearer', tokenFile: v['bearer-file'] };
  if (!v['password-file']) problems.push('--username: needs --password-file');
  return { kind: 'login', username: v.username as string, passwordFile: v['password-file'] ?? '' };
}

function tcpReach(v: Values, address: string, problems: string[]): Reach | undefined {
  if (parseHostPort(address) === null)
    problems.push(`--address: expected host:port, got ${JSON.stringify(address)}`);
  const ids = [v['spiffe-id'], v['downstream-spiffe-id']].map((id) => (id ? parseSpiffeId(id) : undefined));
  const fromIds = ids.find((p) => p !== undefined && !('problem' in p));
  const trustDomain =
    v['trust-domain'] ?? (fromIds && 'trustDomain' in fromIds ? fromIds.trustDomain : undefined);
  if (!trustDomain) problems.push('--address: needs --trust-domain (or a --spiffe-id to take it from)');
  const files = [v['cert-file'], v['key-file'], v['bundle-file']];
  let identity: Extract<Reach, { kind: 'tcp' }>['identity'] | undefined;
  if (v['workload-api-socket'] && files.every((f) => f === undefined))
    identity = { workloadApiSocket: v['workload-api-socket'] };
  else if (!v['workload-api-socket'] && files.every((f) => f !== undefined)) {
    identity = { certFile: files[0] as string, keyFile: files[1] as string, bundleFile: files[2] as string };
  } else problems.push('--address: give --workload-api-socket, or --cert-file, --key-file and --bundle-file');
  return identity && trustDomain ? { kind: 'tcp', address, trustDomain, identity } : undefined;
}

function reach(v: Values, problems: string[]): Reach | undefined {
  const modes = (['url', 'socket-path', 'address'] as const).filter((k) => v[k] !== undefined);
  if (modes.length > 1) {
    problems.push(
      `give one of --url, --socket-path and --address, got ${modes.map((m) => `--${m}`).join(' and ')}`,
    );
    return undefined;
  }
  if (v.url !== undefined) {
    const auth = adminAuth(v, problems);
    return (
      auth && {
        kind: 'admin-api',
        url: v.url,
        auth,
        caFile: v['ca-file'],
        allowHttp: Boolean(v['allow-http']),
      }
    );
  }
  if (v.address !== undefined) return tcpReach(v, v.address, problems);
  return { kind: 'socket', socketPath: v['socket-path'] ?? DEFAULT_SPIRE_SERVER_SOCKET };
}

/** Parses and checks the whole command line; throws UsageError listing every problem. */
export function parseJoinTokenArgs(args: string[]): JoinTokenPlan {
  const { values: v } = parseArgs({ args, options: OPTIONS, strict: true, allowPositionals: false });
  const problems: string[] = [];
  const where = reach(v, problems);
  // A bad --ttl is reported once, by its flag: the placeholder keeps the request's own checks quiet about it.
  const ttlSeconds = seconds('ttl', v.ttl ?? '15m', problems, MAX_TTL_SECONDS) ?? 900;
  const register = Boolean(v['register-downstream']);
  const downstreamId = v['downstream-spiffe-id'];
  if (!register && (downstreamId || v.selector || v.admin)) {
    problems.push('--downstream-spiffe-id, --selector and --admin need --register-downstream');
  }
  if (register && !downstreamId) problems.push('--register-downstream: needs --downstream-spiffe-id');
  const request: JoinTokenRequest = {
    ttlSeconds,
    registerDownstream: register,
    ...(v['spiffe-id'] !== undefined ? { clientSpiffeId: v['spiffe-id'] } : {}),
    ...(register && downstreamId !== undefined
      ? {
          downstream: {
            spiffeId: downstreamId,
            selectors: v.selector ?? [],
            x509SvidTtlSeconds: seconds('x509-ttl', v['x509-ttl'], problems),
            jwtSvidTtlSeconds: seconds('jwt-ttl', v['jwt-ttl'], problems),
            ...(v.admin ? { admin: true } : {}),
          },
        }
      : {}),
  };
  // The admin API's own rules, named by our flags.
  for (const p of joinTokenRequestProblems(request)) {
    const named = flagNames(p);
    if (named !== null) problems.push(named);
  }
  const kind = v.url !== undefined ? 'admin-api' : v.address !== undefined ? 'tcp' : 'socket';
  unusedFlags(v, kind, problems);
  const prune = pruneOption(v, where, problems);
  if (v.output !== undefined && v['token-only']) problems.push('give --output or --token-only, not both');
  if (problems.length > 0 || !where) throw new UsageError('join-token', problems.join('\n  '));
  return {
    reach: where,
    request,
    output: v.output === undefined ? null : { file: v.output, force: Boolean(v.force) },
    tokenOnly: Boolean(v['token-only']),
    prune,
  };
}

function pruneOption(v: Values, where: Reach | undefined, problems: string[]): JoinTokenPlan['prune'] {
  if (!v.prune) {
    if (v['prune-grace'] !== undefined) problems.push('--prune-grace: needs --prune');
    return null;
  }
  if (!v['register-downstream']) problems.push('--prune: needs --register-downstream');
  if (where?.kind === 'admin-api') {
    problems.push(
      '--prune: works with --socket-path or --address; behind --url the broker prunes by its spire.prune_stale',
    );
  }
  const given = v['prune-grace'];
  if (given === undefined) return { graceSeconds: DEFAULT_PRUNE_GRACE_SECONDS };
  const s = parseDuration(given);
  if (s === null || s > MAX_TTL_SECONDS) {
    problems.push(`--prune-grace: expected a duration such as 0, 60 or 5m, got ${JSON.stringify(given)}`);
    return null;
  }
  return { graceSeconds: s };
}

const FLAGS: [RegExp, string][] = [
  // Said already, by its flag: --register-downstream needs --downstream-spiffe-id.
  [/^downstream: required/, ''],
  [/^client_spiffe_id:/, '--spiffe-id:'],
  [/^ttl_seconds:/, '--ttl:'],
  [/^downstream\.spiffe_id:/, '--downstream-spiffe-id:'],
  [/^downstream\.selectors(\[\d+\])?:/, '--selector:'],
  [/^downstream\.x509_svid_ttl_seconds:/, '--x509-ttl:'],
  [/^downstream\.jwt_svid_ttl_seconds:/, '--jwt-ttl:'],
];

function flagNames(problem: string): string | null {
  for (const [key, flag] of FLAGS)
    if (key.test(problem)) return flag === '' ? null : problem.replace(key, flag);
  return problem;
}

/** The flags that only one way of reaching the server uses; given with another, they would be ignored. */
const ONLY_FOR: Record<Reach['kind'], readonly (keyof typeof OPTIONS)[]> = {
  'admin-api': ['api-key-file', 'bearer-file', 'username', 'password-file', 'ca-file', 'allow-http'],
  socket: [],
  tcp: ['trust-domain', 'workload-api-socket', 'cert-file', 'key-file', 'bundle-file'],
};

function unusedFlags(v: Values, kind: Reach['kind'], problems: string[]): void {
  const modeFlag = { 'admin-api': '--url', socket: '--socket-path', tcp: '--address' }[kind];
  for (const [other, flags] of Object.entries(ONLY_FOR)) {
    if (other === kind) continue;
    const given = flags.filter((f) => v[f] !== undefined);
    if (given.length > 0)
      problems.push(`${given.map((f) => `--${f}`).join(', ')}: not used with ${modeFlag}`);
  }
  if (kind === 'admin-api' && v.username === undefined && v['password-file'] !== undefined)
    problems.push('--password-file: needs --username');
}
