import * as grpc from '@grpc/grpc-js';
import type { Faults, Stats } from '../common/faults.js';
import { okStatus, rpcError, statusOf } from '../common/grpc.js';
import type { ServerConfig } from './config.js';
import { type DataStore, type EntryMsg, idString, type SelectorMsg } from './datastore.js';

type Mask = Partial<Record<keyof EntryMsg, boolean>> | null | undefined;
const MASKED: (keyof EntryMsg)[] = [
  'spiffe_id',
  'parent_id',
  'selectors',
  'x509_svid_ttl',
  'federates_with',
  'admin',
  'downstream',
  'expires_at',
  'dns_names',
  'revision_number',
  'store_svid',
  'jwt_svid_ttl',
  'hint',
  'created_at',
];

/** Applies an output mask: absent means every field; the id is always returned. */
function project(e: EntryMsg, mask: Mask): Partial<EntryMsg> {
  if (!mask) return e;
  const out: Partial<EntryMsg> = { id: e.id };
  for (const k of MASKED) if (mask[k]) (out as Record<string, unknown>)[k] = e[k];
  return out;
}

/** Checks an incoming entry as SPIRE's proto conversion does; returns the reason or undefined. */
function invalid(e: Partial<EntryMsg>, td: string): string | undefined {
  for (const key of ['parent_id', 'spiffe_id'] as const) {
    const id = e[key];
    if (!id?.trust_domain)
      return `invalid ${key === 'parent_id' ? 'parent ID' : 'spiffe ID'}: trust domain is missing`;
    if (id.path && !id.path.startsWith('/')) return `invalid ${key}: path must have a leading slash`;
  }
  if (e.spiffe_id?.trust_domain !== td)
    return `invalid spiffe ID: "${idString(e.spiffe_id)}" is not a member of trust domain "${td}"`;
  if (!e.selectors?.length) return 'selector list is empty';
  for (const s of e.selectors) {
    if (!s.type) return 'missing selector type';
    if (s.type.includes(':')) return 'selector type contains ":"';
    if (!s.value) return 'missing selector value';
  }
  if ((e.x509_svid_ttl ?? 0) < 0) return 'x509SvidTtl is not allowed to be negative';
  if ((e.jwt_svid_ttl ?? 0) < 0) return 'jwtSvidTtl is not allowed to be negative';
  return undefined;
}

function selectorMatch(have: SelectorMsg[], want: SelectorMsg[], match: string): boolean {
  const h = new Set(have.map((s) => `${s.type}:${s.value}`));
  const w = new Set(want.map((s) => `${s.type}:${s.value}`));
  const inter = [...w].filter((x) => h.has(x)).length;
  switch (match) {
    case 'MATCH_SUBSET':
      return [...h].every((x) => w.has(x));
    case 'MATCH_SUPERSET':
      return inter === w.size;
    case 'MATCH_ANY':
      return inter > 0;
    default:
      return inter === w.size && h.size === w.size;
  }
}

/** SPIRE's Entry service on the admin socket (GetAuthorizedEntries lives on the agents' TCP endpoint). */
export function entryService(deps: {
  config: ServerConfig;
  store: DataStore;
  faults: Faults;
  stats: Stats;
}): grpc.UntypedServiceImplementation {
  const { config, store, faults, stats } = deps;
  const guard = async (name: string): Promise<grpc.ServiceError | undefined> => {
    stats.inc(name);
    await faults.delay();
    if (faults.take('failNext'))
      return rpcError(faults.state.failStatus as grpc.status, faults.state.failMessage);
    return undefined;
  };

  const ListEntries: grpc.handleUnaryCall<any, any> = async (call, cb) => {
    const err = await guard('list_entries');
    if (err) return cb(err);
    const { filter, output_mask, page_size, page_token } = call.request;
    let list = [...store.entries()];
    if (filter?.by_spiffe_id)
      list = list.filter((e) => idString(e.spiffe_id) === idString(filter.by_spiffe_id));
    if (filter?.by_parent_id)
      list = list.filter((e) => idString(e.parent_id) === idString(filter.by_parent_id));
    if (filter?.by_selectors) {
      if (!filter.by_selectors.selectors?.length) {
        return cb(rpcError(grpc.status.INVALID_ARGUMENT, 'malformed selectors filter: empty selector set'));
      }
      list = list.filter((e) =>
        selectorMatch(e.selectors, filter.by_selectors.selectors, filter.by_selectors.match),
      );
    }
    list.sort((a, b) => a.id.localeCompare(b.id));
    const start = page_token ? list.findIndex((e) => e.id > page_token) : 0;
    const from = start < 0 ? list.length : start;
    const page = page_size > 0 ? list.slice(from, from + page_size) : list.slice(from);
    const more = page_size > 0 && from + page_size < list.length;
    cb(null, {
      entries: page.map((e) => project(e, output_mask)),
      next_page_token: more ? (page.at(-1)?.id ?? '') : '',
    });
  };

  const BatchCreateEntry: grpc.handleUnaryCall<any, any> = async (call, cb) => {
    const err = await guard('batch_create_entry');
    if (err) return cb(err);
    const results = (call.request.entries as EntryMsg[]).map((e) => {
      const why = invalid(e, config.trustDomain);
      if (why)
        return {
          status: statusOf(grpc.status.INVALID_ARGUMENT, `failed to convert entry: ${why}`),
          entry: null,
        };
      const existing = store.similar(e);
      if (existing) {
        return {
          status: statusOf(grpc.status.ALREADY_EXISTS, 'similar entry already exists'),
          entry: project(existing, call.request.output_mask),
        };
      }
      if (e.id && store.entry(e.id)) {
        return {
          status: statusOf(grpc.status.ALREADY_EXISTS, 'similar entry already exists'),
          entry: project(store.entry(e.id) as EntryMsg, call.request.output_mask),
        };
      }
      return { status: okStatus, entry: project(store.createEntry(e), call.request.output_mask) };
    });
    cb(null, { results });
  };

  const BatchUpdateEntry: grpc.handleUnaryCall<any, any> = async (call, cb) => {
    const err = await guard('batch_update_entry');
    if (err) return cb(err);
    const { input_mask, output_mask } = call.request;
    const results = (call.request.entries as EntryMsg[]).map((e) => {
      const current = store.entry(e.id);
      if (!current)
        return {
          status: statusOf(grpc.status.NOT_FOUND, 'failed to update entry: datastore-sql: record not found'),
          entry: null,
        };
      const next: EntryMsg = { ...current };
      for (const k of MASKED) {
        if (k === 'revision_number' || k === 'created_at') continue;
        if (!input_mask || input_mask[k]) (next as unknown as Record<string, unknown>)[k] = e[k];
      }
      const why = invalid(next, config.trustDomain);
      if (why)
        return {
          status: statusOf(grpc.status.INVALID_ARGUMENT, `failed to convert entry: ${why}`),
          entry: null,
        };
      next.revision_number = current.revision_number + 1;
      store.replaceEntry(next);
      return { status: okStatus, entry: project(next, output_mask) };
    });
    cb(null, { results });
  };

  const BatchDeleteEntry: grpc.handleUnaryCall<any, any> = async (call, cb) => {
    const err = await guard('batch_delete_entry');
    if (err) return cb(err);
    const results = (call.request.ids as string[]).map((id) => {
      if (!id) return { status: statusOf(grpc.status.INVALID_ARGUMENT, 'missing entry ID'), id };
      if (!store.deleteEntry(id)) return { status: statusOf(grpc.status.NOT_FOUND, 'entry not found'), id };
      return { status: okStatus, id };
    });
    cb(null, { results });
  };

  return { ListEntries, BatchCreateEntry, BatchUpdateEntry, BatchDeleteEntry };
}
