// POST /api/admin/spire/join-tokens bodies (DESIGN §7) into the token layer's JoinTokenRequest, then its own
// validation (joinTokenRequestProblems) as the first layer of policy. Unlike Go's encoding/json, a field of the
// wrong type or one the contract does not have is named in a 400, never silently dropped.

import {
  type DownstreamSpec,
  type JoinTokenRequest,
  joinTokenRequestProblems,
} from '../token/admin-request.js';

const TOP = ['client_spiffe_id', 'ttl_seconds', 'register_downstream', 'downstream'];
const DOWNSTREAM = [
  'spiffe_id',
  'selectors',
  'x509_svid_ttl_seconds',
  'jwt_svid_ttl_seconds',
  'admin',
  'store_svid',
  'dns_names',
  'federates_with',
];

/** A decoded request: what was asked, with `ttlSeconds` absent when the caller left it to the default. */
export interface BrokerRequest {
  readonly clientSpiffeId: string | undefined;
  readonly ttlSeconds: number | undefined;
  readonly registerDownstream: boolean;
  readonly downstream: DownstreamSpec | undefined;
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const shown = (v: unknown) => {
  const text = JSON.stringify(v) ?? String(v);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
};

class Fields {
  readonly problems: string[] = [];
  constructor(
    readonly obj: Json,
    readonly prefix: string,
  ) {}

  #get<T>(key: string, ok: (v: unknown) => boolean, what: string): T | undefined {
    const v = this.obj[key];
    if (v === undefined || v === null) return undefined;
    if (ok(v)) return v as T;
    this.problems.push(`${this.prefix}${key}: expected ${what}, got ${shown(v)}`);
    return undefined;
  }
  string = (key: string) => this.#get<string>(key, (v) => typeof v === 'string', 'a string');
  int = (key: string) => this.#get<number>(key, (v) => Number.isSafeInteger(v), 'an integer');
  bool = (key: string) => this.#get<boolean>(key, (v) => typeof v === 'boolean', 'true or false');
  strings = (key: string) =>
    this.#get<string[]>(
      key,
      (v) => Array.isArray(v) && v.every((s) => typeof s === 'string'),
      'a list of strings',
    );

  unknown(allowed: string[]): void {
    const extra = Object.keys(this.obj)
      .filter((k) => !allowed.includes(k))
      .sort();
    if (extra.length > 0) {
      this.problems.push(
        `${extra.map((k) => `${this.prefix}${k}`).join(', ')}: not part of the join-token request`,
      );
    }
  }
}

/** The decoded request, or every problem with it (each naming the JSON field as sent). */
export function decodeRequest(body: string): BrokerRequest | { problems: string[] } {
  let raw: unknown;
  try {
    raw = JSON.parse(body);
  } catch {
    return { problems: ['body: expected a JSON object, got text that is not JSON'] };
  }
  if (!isObject(raw)) return { problems: [`body: expected a JSON object, got ${shown(raw)}`] };
  const top = new Fields(raw, '');
  top.unknown(TOP);
  const client = top.string('client_spiffe_id');
  const ttl = top.int('ttl_seconds');
  const register = top.bool('register_downstream') ?? false;
  let downstream: DownstreamSpec | undefined;
  const problems = top.problems;
  const ds = raw.downstream;
  if (ds !== undefined && ds !== null && !isObject(ds)) {
    problems.push(`downstream: expected an object, got ${shown(ds)}`);
  } else if (isObject(ds)) {
    const f = new Fields(ds, 'downstream.');
    f.unknown(DOWNSTREAM);
    downstream = {
      spiffeId: f.string('spiffe_id') ?? '',
      selectors: f.strings('selectors') ?? [],
      x509SvidTtlSeconds: f.int('x509_svid_ttl_seconds'),
      jwtSvidTtlSeconds: f.int('jwt_svid_ttl_seconds'),
      admin: f.bool('admin'),
      storeSvid: f.bool('store_svid'),
      dnsNames: f.strings('dns_names'),
      federatesWith: f.strings('federates_with'),
    };
    problems.push(...f.problems);
  }
  if (downstream && !register) {
    problems.push('downstream: given while register_downstream is not true; set it, or leave downstream out');
  }
  if (problems.length > 0) return { problems };
  return {
    // ServiceRadar's CLI leaves both out when empty (omitempty); core read 0 as "the default".
    clientSpiffeId: client === '' ? undefined : client,
    ttlSeconds: ttl === 0 ? undefined : ttl,
    registerDownstream: register,
    downstream,
  };
}

/** The token layer's own checks of a decoded request, with the TTL the policy resolved. */
export function requestProblems(req: BrokerRequest, ttlSeconds: number): string[] {
  const wire: JoinTokenRequest = {
    ttlSeconds,
    registerDownstream: req.registerDownstream,
    ...(req.clientSpiffeId === undefined ? {} : { clientSpiffeId: req.clientSpiffeId }),
    ...(req.downstream === undefined ? {} : { downstream: req.downstream }),
  };
  return joinTokenRequestProblems(wire);
}
