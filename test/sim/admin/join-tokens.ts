import type * as grpc from '@grpc/grpc-js';
import type { AdminConfig } from './config.js';
import { jsonError, jsonReply, type Reply } from './http.js';
import { parseSpiffeId } from './spiffe-id.js';
import { createEntry, createJoinToken, goRpcError, type SpiffeIdProto } from './spire.js';

// core's handleCreateSpireJoinToken (pkg/core/api/spire.go) with pkg/spireadmin's checks, step for step. The
// faithful trap: the token is minted first, and only then is `downstream` looked at.

export interface JoinTokenContext {
  config: AdminConfig;
  spireSocket: string;
  trustDomain: string;
  count: (name: string) => void;
}

type Json = Record<string, unknown>;

interface Downstream {
  spiffe_id: string;
  selectors: string[];
  x509_svid_ttl_seconds: number;
  jwt_svid_ttl_seconds: number;
  admin: boolean;
  store_svid: boolean;
  dns_names: string[];
  federates_with: string[];
}

interface JoinTokenRequest {
  client_spiffe_id: string;
  ttl_seconds: number;
  register_downstream: boolean;
  downstream: Downstream | undefined;
}

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

// Go's encoding/json: unknown keys and null are ignored, a wrong type fails the whole decode.
function field<T>(obj: Json, key: string, kind: 'string' | 'int' | 'bool' | 'strings', dflt: T): T {
  const v = obj[key];
  if (v === undefined || v === null) return dflt;
  const ok =
    (kind === 'string' && typeof v === 'string') ||
    (kind === 'bool' && typeof v === 'boolean') ||
    (kind === 'int' && Number.isSafeInteger(v)) ||
    (kind === 'strings' && Array.isArray(v) && v.every((s) => s === null || typeof s === 'string'));
  if (!ok) throw new Error(key);
  return (kind === 'strings' ? (v as unknown[]).map((s) => s ?? '') : v) as T;
}

function decode(body: string): JoinTokenRequest | undefined {
  try {
    const raw: unknown = JSON.parse(body);
    const obj = raw === null ? {} : raw;
    if (!isObject(obj)) return undefined;
    const ds = obj.downstream;
    if (ds !== undefined && ds !== null && !isObject(ds)) return undefined;
    return {
      client_spiffe_id: field(obj, 'client_spiffe_id', 'string', ''),
      ttl_seconds: field(obj, 'ttl_seconds', 'int', 0),
      register_downstream: field(obj, 'register_downstream', 'bool', false),
      downstream: isObject(ds)
        ? {
            spiffe_id: field(ds, 'spiffe_id', 'string', ''),
            selectors: field(ds, 'selectors', 'strings', []),
            x509_svid_ttl_seconds: field(ds, 'x509_svid_ttl_seconds', 'int', 0),
            jwt_svid_ttl_seconds: field(ds, 'jwt_svid_ttl_seconds', 'int', 0),
            admin: field(ds, 'admin', 'bool', false),
            store_svid: field(ds, 'store_svid', 'bool', false),
            dns_names: field(ds, 'dns_names', 'strings', []),
            federates_with: field(ds, 'federates_with', 'strings', []),
          }
        : undefined,
    };
  } catch {
    return undefined;
  }
}

/** spireadmin.ToProtoSelector over the list; the message is core's 400 text. */
export function parseSelectors(raw: string[]): { type: string; value: string }[] | string {
  if (raw.length === 0) return 'at least one selector is required';
  const out: { type: string; value: string }[] = [];
  for (const item of raw) {
    const s = item.trim();
    if (s === '') return 'empty selector';
    const idx = s.indexOf(':');
    if (idx <= 0 || idx === s.length - 1) return `invalid selector format: ${JSON.stringify(s)}`;
    out.push({ type: s.slice(0, idx), value: s.slice(idx + 1) });
  }
  return out;
}

const bad = (message: string) => jsonError(502, message);

async function registerDownstream(
  ds: Downstream,
  parentId: string,
  ctx: JoinTokenContext,
): Promise<Reply | string> {
  const selectors = parseSelectors(ds.selectors);
  if (typeof selectors === 'string') return jsonError(400, selectors);
  if (ds.spiffe_id === '') return bad('spire admin: downstream spiffe_id is required');
  const parent = parseSpiffeId(parentId);
  if (typeof parent === 'string') return bad(`spire admin: invalid downstream parent ID: ${parent}`);
  const id = parseSpiffeId(ds.spiffe_id);
  if (typeof id === 'string') return bad(`spire admin: invalid downstream spiffe_id: ${id}`);
  let result: Awaited<ReturnType<typeof createEntry>>;
  try {
    result = await createEntry(ctx.spireSocket, {
      spiffe_id: id,
      parent_id: parent,
      selectors,
      x509_svid_ttl: Math.max(0, ds.x509_svid_ttl_seconds),
      jwt_svid_ttl: Math.max(0, ds.jwt_svid_ttl_seconds),
      admin: ds.admin,
      store_svid: ds.store_svid,
      dns_names: ds.dns_names,
      federates_with: ds.federates_with,
      downstream: true,
    });
  } catch (err) {
    return bad(`spire admin: batch create entry: ${goRpcError(err as grpc.ServiceError)}`);
  }
  if (!result) return bad('spire admin: unexpected empty response creating downstream entry');
  if (!result.status) return bad('spire admin: missing status in downstream entry response');
  // OK (0) and ALREADY_EXISTS (6) both carry the entry to report.
  if (result.status.code === 0 || result.status.code === 6) {
    if (!result.entry) return bad('spire admin: downstream entry missing entry payload in response');
    ctx.count(result.status.code === 0 ? 'downstream_entries_created' : 'downstream_entries_existing');
    return result.entry.id;
  }
  return bad(`spire admin: downstream entry create failed: ${result.status.message}`);
}

/** POST /api/admin/spire/join-tokens, after authentication and RBAC. */
export async function handleJoinToken(body: string, ctx: JoinTokenContext): Promise<Reply> {
  if (!ctx.config.integrationEnabled) return jsonError(503, 'SPIRE admin integration is not enabled');
  const req = decode(body);
  if (!req) return jsonError(400, 'Invalid request body');
  const ttl = req.ttl_seconds > 0 ? req.ttl_seconds : ctx.config.defaultTokenTtlSeconds;
  let agentId: SpiffeIdProto | undefined;
  if (req.client_spiffe_id !== '') {
    const parsed = parseSpiffeId(req.client_spiffe_id);
    if (typeof parsed === 'string') return bad(`spire admin: invalid agent spiffe_id: ${parsed}`);
    agentId = parsed;
  }
  let token: { value: string; expires_at: number };
  try {
    token = await createJoinToken(ctx.spireSocket, ttl, agentId);
  } catch (err) {
    return bad(`spire admin: create join token: ${goRpcError(err as grpc.ServiceError)}`);
  }
  ctx.count('join_tokens_issued');
  const parentId = `spiffe://${ctx.trustDomain}/spire/agent/join_token/${token.value}`;
  const response: Json = {
    token: token.value,
    expires_at: new Date(token.expires_at * 1000).toISOString().replace('.000Z', 'Z'),
    [ctx.config.parentField]: parentId,
  };
  if (req.register_downstream) {
    if (!req.downstream) return jsonError(400, 'downstream configuration is required');
    const entryId = await registerDownstream(req.downstream, parentId, ctx);
    if (typeof entryId !== 'string') return entryId;
    // Go's omitempty drops an empty id.
    if (entryId !== '') response.downstream_entry_id = entryId;
  }
  return jsonReply(201, response);
}
