import { hasControlChar } from '../common/control-chars.js';
import { parseSpiffeId } from '../spire/spiffe-id.js';

/** The downstream registration entry the admin API creates under the new token's agent ID. */
export interface DownstreamSpec {
  spiffeId: string;
  /** "type:value", e.g. "unix:uid:0" or "unix:path:/opt/spire/bin/spire-server". */
  selectors: string[];
  x509SvidTtlSeconds?: number;
  jwtSvidTtlSeconds?: number;
  admin?: boolean;
  storeSvid?: boolean;
  dnsNames?: string[];
  federatesWith?: string[];
}

export interface JoinTokenRequest {
  clientSpiffeId?: string;
  ttlSeconds: number;
  registerDownstream: boolean;
  downstream?: DownstreamSpec;
}

const INT32_MAX = 2_147_483_647;

/**
 * Every problem of a request, each naming the JSON field as sent and echoing the bad value. The server mints
 * the token before it validates `downstream`, so a request it would reject must never leave this process.
 */
export function joinTokenRequestProblems(req: JoinTokenRequest): string[] {
  const problems: string[] = [];
  const spiffeId = (key: string, value: string) => {
    const parsed = parseSpiffeId(value);
    if ('problem' in parsed) problems.push(`${key}: ${parsed.problem}, got ${JSON.stringify(value)}`);
    else if (parsed.path === '')
      problems.push(`${key}: expected a SPIFFE ID with a path, got ${JSON.stringify(value)}`);
  };
  const integer = (key: string, value: number | undefined, min: number) => {
    if (value === undefined) return;
    if (!Number.isInteger(value) || value < min || value > INT32_MAX) {
      const what = min === 0 ? 'a non-negative integer' : 'a positive integer';
      problems.push(`${key}: expected ${what} (seconds), got ${String(value)}`);
    }
  };
  const words = (key: string, list: string[] | undefined) =>
    list?.forEach((v, i) => {
      if (v === '' || /\s/.test(v) || hasControlChar(v)) {
        problems.push(
          `${key}[${i}]: expected a non-empty value without whitespace, got ${JSON.stringify(v)}`,
        );
      }
    });

  if (req.clientSpiffeId !== undefined) spiffeId('client_spiffe_id', req.clientSpiffeId);
  integer('ttl_seconds', req.ttlSeconds, 1);
  const ds = req.downstream;
  if (req.registerDownstream && ds === undefined) {
    problems.push('downstream: required when register_downstream is true');
  }
  if (ds) {
    spiffeId('downstream.spiffe_id', ds.spiffeId);
    if (ds.selectors.length === 0) problems.push('downstream.selectors: expected at least one "type:value"');
    ds.selectors.forEach((sel, i) => {
      if (!/^[^\s:]+:\S/.test(sel) || hasControlChar(sel)) {
        problems.push(
          `downstream.selectors[${i}]: expected "type:value" (e.g. "unix:uid:0"), got ${JSON.stringify(sel)}`,
        );
      }
    });
    integer('downstream.x509_svid_ttl_seconds', ds.x509SvidTtlSeconds, 0);
    integer('downstream.jwt_svid_ttl_seconds', ds.jwtSvidTtlSeconds, 0);
    words('downstream.dns_names', ds.dnsNames);
    words('downstream.federates_with', ds.federatesWith);
  }
  return problems;
}

/** The JSON body ServiceRadar core expects; optional fields are left out rather than sent empty. */
export function toWireRequest(req: JoinTokenRequest): Record<string, unknown> {
  const body: Record<string, unknown> = {
    ttl_seconds: req.ttlSeconds,
    register_downstream: req.registerDownstream,
  };
  if (req.clientSpiffeId !== undefined) body.client_spiffe_id = req.clientSpiffeId;
  const ds = req.downstream;
  if (ds) {
    const downstream: Record<string, unknown> = { spiffe_id: ds.spiffeId, selectors: [...ds.selectors] };
    if (ds.x509SvidTtlSeconds !== undefined) downstream.x509_svid_ttl_seconds = ds.x509SvidTtlSeconds;
    if (ds.jwtSvidTtlSeconds !== undefined) downstream.jwt_svid_ttl_seconds = ds.jwtSvidTtlSeconds;
    if (ds.admin !== undefined) downstream.admin = ds.admin;
    if (ds.storeSvid !== undefined) downstream.store_svid = ds.storeSvid;
    if (ds.dnsNames !== undefined) downstream.dns_names = [...ds.dnsNames];
    if (ds.federatesWith !== undefined) downstream.federates_with = [...ds.federatesWith];
    body.downstream = downstream;
  }
  return body;
}
