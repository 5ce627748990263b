// The plan's policy (DESIGN §9), decided before anything is minted: the request's own shape, the TTL bounds,
// the trust domain, a template the caller may use, selector types, and the downstream entry's powers.

import { parseSpiffeId } from '../spire/spiffe-id.js';
import type { BrokerConfig, Template } from './config.js';
import type { Principal } from './credentials.js';
import { type BrokerRequest, requestProblems } from './request.js';
import { matchTemplate, PLACEHOLDER_VALUE } from './templates.js';

/** Every rule a request can be denied by: the `rule` of the answer, the audit line and the metric. */
export const RULES = [
  'unauthenticated',
  'role',
  'request',
  'ttl',
  'trust-domain',
  'template',
  'selector',
  'admin',
  'dns-names',
  'federates-with',
  'store-svid',
  'rate-limit',
  'global-rate-limit',
] as const;
export type Rule = (typeof RULES)[number];

export interface Denial {
  readonly status: 400 | 401 | 403 | 429;
  readonly rule: Rule;
  readonly message: string;
  readonly retryAfterSeconds?: number;
}

export interface Approval {
  readonly ttlSeconds: number;
  readonly template: Template;
}

const deny = (status: 400 | 403, rule: Rule, message: string): Denial => ({ status, rule, message });

function trustDomainDenial(req: BrokerRequest, td: string): Denial | undefined {
  const ids: [string, string | undefined][] = [
    ['client_spiffe_id', req.clientSpiffeId],
    ['downstream.spiffe_id', req.downstream?.spiffeId],
  ];
  for (const [key, id] of ids) {
    if (id === undefined) continue;
    const parsed = parseSpiffeId(id);
    if (!('problem' in parsed) && parsed.trustDomain !== td) {
      return deny(
        403,
        'trust-domain',
        `${key}: expected a SPIFFE ID in trust domain "${td}", got ${JSON.stringify(id)}`,
      );
    }
  }
  return undefined;
}

const pathOf = (id: string) => {
  const parsed = parseSpiffeId(id);
  return 'problem' in parsed ? '' : parsed.path;
};

/** Whether a template admits the request's IDs, with the same value for a placeholder in both. */
function admits(t: Template, req: BrokerRequest): boolean {
  let bound: Map<string, string> | null = new Map();
  if (req.clientSpiffeId !== undefined) {
    bound = t.client ? matchTemplate(t.client, pathOf(req.clientSpiffeId), bound) : null;
  }
  if (bound && req.downstream) {
    bound = t.downstream ? matchTemplate(t.downstream, pathOf(req.downstream.spiffeId), bound) : null;
  }
  return bound !== null;
}

function describe(t: Template): string {
  const parts = [
    t.client ? `client_spiffe_id ${t.client.text}` : '',
    t.downstream ? `downstream.spiffe_id ${t.downstream.text}` : '',
  ].filter(Boolean);
  return `"${t.name}" (${parts.join(', ')})`;
}

function templateFor(req: BrokerRequest, principal: Principal, config: BrokerConfig): Template | Denial {
  if (req.clientSpiffeId === undefined && !req.downstream) {
    return deny(
      403,
      'template',
      'the request names neither client_spiffe_id nor a downstream entry, so no template can admit it',
    );
  }
  const allowed = config.policy.templates.filter((t) => principal.templates?.includes(t.name) ?? true);
  const match = allowed.find((t) => admits(t, req));
  if (match) return match;
  const who = `${principal.kind === 'user' ? 'user' : 'API key'} ${JSON.stringify(principal.name)}`;
  const other = config.policy.templates.find((t) => !allowed.includes(t) && admits(t, req));
  if (other)
    return deny(403, 'template', `the request matches template "${other.name}", which ${who} may not use`);
  const ids = [
    req.clientSpiffeId === undefined ? '' : `client_spiffe_id ${JSON.stringify(req.clientSpiffeId)}`,
    req.downstream ? `downstream.spiffe_id ${JSON.stringify(req.downstream.spiffeId)}` : '',
  ].filter(Boolean);
  return deny(
    403,
    'template',
    `${ids.join(' and ')} match no template ${who} may use: ${allowed.map(describe).join('; ') || 'none'}; a placeholder takes ${PLACEHOLDER_VALUE}, the same in both IDs`,
  );
}

function powersDenial(req: BrokerRequest, t: Template): Denial | undefined {
  const ds = req.downstream;
  if (!ds) return undefined;
  for (const [i, selector] of ds.selectors.entries()) {
    const type = selector.slice(0, selector.indexOf(':'));
    if (!t.selectorTypes.includes(type)) {
      return deny(
        403,
        'selector',
        `downstream.selectors[${i}]: type ${JSON.stringify(type)} is not allowed by template "${t.name}" (allowed: ${t.selectorTypes.join(', ')})`,
      );
    }
  }
  const powers: [boolean, boolean, Rule, string][] = [
    [ds.admin === true, t.allowAdmin, 'admin', 'downstream.admin: true'],
    [(ds.dnsNames?.length ?? 0) > 0, t.allowDnsNames, 'dns-names', 'downstream.dns_names'],
    [
      (ds.federatesWith?.length ?? 0) > 0,
      t.allowFederatesWith,
      'federates-with',
      'downstream.federates_with',
    ],
    [ds.storeSvid === true, t.allowStoreSvid, 'store-svid', 'downstream.store_svid: true'],
  ];
  for (const [asked, allowed, rule, what] of powers) {
    if (asked && !allowed) return deny(403, rule, `${what} is not allowed by template "${t.name}"`);
  }
  return undefined;
}

/** Approves a decoded request for `principal`, or says which rule denies it. Pure. */
export function decide(req: BrokerRequest, principal: Principal, config: BrokerConfig): Approval | Denial {
  const ttlSeconds = req.ttlSeconds ?? config.policy.defaultTtlSeconds;
  const problems = requestProblems(req, ttlSeconds);
  if (problems.length > 0) return deny(400, 'request', `invalid join token request: ${problems.join('; ')}`);
  const max = config.policy.maxTtlSeconds;
  if (ttlSeconds > max) {
    return deny(
      403,
      'ttl',
      `ttl_seconds: ${ttlSeconds} is above the maximum of ${max} seconds; ask for less, or leave it out for ${config.policy.defaultTtlSeconds}`,
    );
  }
  const td = trustDomainDenial(req, config.trustDomain);
  if (td) return td;
  const template = templateFor(req, principal, config);
  if ('rule' in template) return template;
  return powersDenial(req, template) ?? { ttlSeconds, template };
}
