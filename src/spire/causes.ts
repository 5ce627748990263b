// SPIRE's own failure lines, mapped to a cause an operator can act on: one table, used for `lastError` and the
// `reason` label of poller_bootstrap_child_failures_total. Patterns follow SPIRE's and Go's wording (spire
// `pkg/agent/client`, `pkg/server/api/agent/v1`, go-spiffe's Workload API client, grpc-go's dial errors).
import type { ParsedLine } from '../supervisor/logrus.js';

export type ChildName = 'upstream-agent' | 'nested-server' | 'downstream-agent';

/** What the daemon knows that makes a cause's message and hint concrete. */
export interface CauseContext {
  /** host:port of the cluster SPIRE server, as the upstream agent dials it. */
  upstreamServer: string;
  /** host:port of the nested server, as the downstream agent dials it. */
  nestedServer: string;
  trustBundlePath: string | null;
  /** The nested server's downstream entry on the cluster server. */
  downstreamId: string;
  /** The upstream agent's SPIFFE ID (its token masked), when known. */
  upstreamAgentId: string | null;
  stateDir: string;
}

export interface Cause {
  code: CauseCode;
  message: string;
  hint: string | null;
  /** False when only a person can fix it. */
  retryable: boolean;
}

export const CAUSE_CODES = [
  'token-rejected',
  'token-expired',
  'trust-bundle-mismatch',
  'server-unreachable',
  'no-identity-issued',
  'entry-not-downstream',
  'data-files',
  'port-in-use',
] as const;
export type CauseCode = (typeof CAUSE_CODES)[number];

interface Rule {
  code: CauseCode;
  pattern: RegExp;
  /** Only these children print it; all when absent. */
  children?: readonly ChildName[];
  retryable: boolean;
  describe(child: ChildName, ctx: CauseContext, detail: string): { message: string; hint: string | null };
}

const AGENTS: readonly ChildName[] = ['upstream-agent', 'downstream-agent'];
const serverOf = (child: ChildName, ctx: CauseContext) =>
  child === 'upstream-agent'
    ? `the SPIRE server at ${ctx.upstreamServer}`
    : `the nested server at ${ctx.nestedServer}`;

// First match wins: a trust failure is also a failed dial, so it comes before "unreachable".
const RULES: readonly Rule[] = [
  {
    code: 'token-rejected',
    pattern: /join token does not exist or has already been used/,
    children: AGENTS,
    retryable: true,
    describe: (child, ctx) => ({
      message: `${serverOf(child, ctx)} refused the join token: it does not exist or has already been used`,
      hint: null,
    }),
  },
  {
    code: 'token-expired',
    pattern: /join token expired/,
    children: AGENTS,
    retryable: true,
    describe: (child, ctx) => ({
      message: `${serverOf(child, ctx)} refused the join token: it has expired`,
      hint: null,
    }),
  },
  {
    code: 'trust-bundle-mismatch',
    pattern:
      /authentication handshake failed|x509svid: could not (verify|get)|certificate signed by unknown authority|self[- ]signed certificate/,
    children: AGENTS,
    retryable: false,
    describe: (child, ctx, detail) => ({
      message: `${serverOf(child, ctx)} presented a certificate its trust bundle does not accept (${detail})`,
      hint:
        child === 'upstream-agent'
          ? `put the SPIRE server's current bundle (spire-server bundle show) at ${ctx.trustBundlePath ?? 'upstream.trust_bundle_path'}; the agent restarts when the file changes`
          : "the nested server's CA changed: restart the daemon so that it writes the downstream agent's bundle again",
    }),
  },
  {
    code: 'server-unreachable',
    pattern:
      /connection refused|no such host|i\/o timeout|network is unreachable|no route to host|context deadline exceeded|failed to dial|connection reset/,
    children: AGENTS,
    retryable: true,
    describe: (child, ctx, detail) => ({
      message: `cannot reach ${serverOf(child, ctx)} (${detail})`,
      hint:
        child === 'upstream-agent'
          ? 'check upstream.server_address and upstream.server_port, DNS and the firewall between this host and the server'
          : 'the nested server is not answering on its port; see its own log lines',
    }),
  },
  {
    code: 'no-identity-issued',
    pattern: /no identity issued/,
    children: ['nested-server'],
    retryable: false,
    describe: (_child, ctx) => ({
      message:
        `the nested server gets no SVID from the upstream agent: the downstream entry for ${ctx.downstreamId} ` +
        `parented to ${ctx.upstreamAgentId ?? 'the upstream agent'} is missing on the cluster server`,
      hint:
        'create it (spire-server entry create -downstream -parentID <agent ID> -spiffeID <downstream ID> -selector …), ' +
        'or remove the upstream identity so that the daemon enrols again through the admin API',
    }),
  },
  {
    code: 'entry-not-downstream',
    pattern: /caller is not a downstream workload/,
    children: ['nested-server'],
    retryable: false,
    describe: (_child, ctx) => ({
      message: `the cluster server's entry for ${ctx.downstreamId} is not marked downstream, so it will not sign the nested server's CA`,
      hint: 'recreate the entry with -downstream (downstream: true)',
    }),
  },
  {
    code: 'port-in-use',
    pattern: /address already in use/,
    retryable: false,
    describe: (child, _ctx, detail) => ({
      message: `a port or socket of the ${child} is already in use (${detail})`,
      hint: 'stop the process holding it (ss -ltnp / ss -lxp), or give the daemon other ports in its configuration',
    }),
  },
  {
    code: 'data-files',
    pattern:
      /unable to open database file|failed to (open|load|read|write).*(datastore|database|keys?|key manager|data)|permission denied|read-only file system|no space left on device/i,
    retryable: false,
    describe: (child, ctx, detail) => ({
      message: `the ${child} cannot use its data files (${detail})`,
      hint: `check the ownership, modes and free space of ${ctx.stateDir}`,
    }),
  },
];

const MAX_DETAIL = 200;

/** The part of a line that says what went wrong: logrus's `error` field, or the message. */
function detailOf(line: ParsedLine): string {
  const error = line.fields.error;
  const text = typeof error === 'string' && error !== '' ? error : line.msg;
  return text.length > MAX_DETAIL ? `${text.slice(0, MAX_DETAIL)}…` : text;
}

/** The cause one of a child's log lines reports, if it is a warning or worse and matches the table. */
export function causeOf(child: ChildName, line: ParsedLine, ctx: CauseContext): Cause | null {
  if (line.level !== 'warn' && line.level !== 'error' && line.level !== 'fatal') return null;
  const text = `${line.msg} ${JSON.stringify(line.fields)}`;
  for (const rule of RULES) {
    if (rule.children && !rule.children.includes(child)) continue;
    if (!rule.pattern.test(text)) continue;
    return { code: rule.code, retryable: rule.retryable, ...rule.describe(child, ctx, detailOf(line)) };
  }
  return null;
}
