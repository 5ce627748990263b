// A thin client of a SPIRE server's admin socket: its bundle and registration entries (join tokens are minted by
// the token layer, src/token/source-spire-server.ts).
import * as grpc from '@grpc/grpc-js';
import { SpireApiError } from './api-error.js';
import { adminSocket, type SpireEndpoint } from './endpoint.js';
import { callUnary, services } from './proto.js';
import type { ManagedEntry, ReconcilePlan } from './reconcile.js';
import { parseSpiffeId } from './spiffe-id.js';

interface SpiffeIdMsg {
  trust_domain: string;
  path: string;
}
interface EntryMsg {
  id: string;
  spiffe_id: SpiffeIdMsg;
  parent_id: SpiffeIdMsg;
  selectors: { type: string; value: string }[];
  x509_svid_ttl: number;
  jwt_svid_ttl: number;
  hint: string;
  downstream: boolean;
  /** Unix seconds; set by the server. */
  created_at: number;
}
interface BatchResult {
  status: { code: number; message: string };
  entry?: { id: string } | null;
}

/** A downstream (nested server) entry as the join-token broker creates it, with every field it may set. */
export interface DownstreamEntrySpec {
  spiffeId: string;
  parentId: string;
  selectors: readonly string[];
  x509SvidTtl: number;
  jwtSvidTtl: number;
  admin: boolean;
  storeSvid: boolean;
  dnsNames: readonly string[];
  federatesWith: readonly string[];
  hint: string;
}

/** An entry as listed, with what deciding on its staleness needs. */
export interface ListedEntry {
  id: string;
  spiffeId: string;
  parentId: string;
  downstream: boolean;
  hint: string;
  /** Unix seconds. */
  createdAt: number;
}

const toMsg = (id: string): SpiffeIdMsg => {
  const parsed = parseSpiffeId(id);
  if ('problem' in parsed) throw new Error(`${parsed.problem}, got ${JSON.stringify(id)}`);
  return { trust_domain: parsed.trustDomain, path: parsed.path };
};
const fromMsg = (id: SpiffeIdMsg | null | undefined) => (id ? `spiffe://${id.trust_domain}${id.path}` : '');

function entryMsg(e: ManagedEntry): Partial<EntryMsg> {
  return {
    ...(e.id ? { id: e.id } : {}),
    spiffe_id: toMsg(e.spiffeId),
    parent_id: toMsg(e.parentId),
    selectors: e.selectors.map((s) => {
      const i = s.indexOf(':');
      return { type: s.slice(0, i), value: s.slice(i + 1) };
    }),
    x509_svid_ttl: e.x509SvidTtl,
    jwt_svid_ttl: e.jwtSvidTtl,
    hint: e.hint,
    downstream: Boolean(e.downstream),
    ...(e.admin ? { admin: true } : {}),
    ...(e.storeSvid ? { store_svid: true } : {}),
    ...(e.dnsNames?.length ? { dns_names: [...e.dnsNames] } : {}),
    ...(e.federatesWith?.length ? { federates_with: [...e.federatesWith] } : {}),
  };
}

/** Admin client of one SPIRE server (its socket path, or an endpoint); `close` when done. Fails with SpireApiError. */
export function serverClient(where: string | SpireEndpoint, timeoutMs = 10_000) {
  const endpoint = typeof where === 'string' ? adminSocket(where) : where;
  const { target, credentials: creds, options } = endpoint;
  const entry = new services.entry(target, creds, options);
  const bundle = new services.bundle(target, creds, options);
  const agent = new services.agent(target, creds, options);
  const names = new Map<grpc.Client, string>([
    [entry, 'Entry'],
    [bundle, 'Bundle'],
    [agent, 'Agent'],
  ]);
  const call = async <T>(client: grpc.Client, method: string, req: object): Promise<T> => {
    const name = `${names.get(client)}.${method}`;
    try {
      return await callUnary<T>(client, method, req, { deadline: new Date(Date.now() + timeoutMs) });
    } catch (err) {
      const e = err as grpc.ServiceError;
      throw new SpireApiError(name, target, e.code ?? grpc.status.UNKNOWN, e.details ?? e.message, err);
    }
  };
  /** Fails on the first batch result other than OK (and ALREADY_EXISTS where that means "done"). */
  const check = (method: string, results: BatchResult[], okCodes: number[] = [grpc.status.OK]): void => {
    const bad = results.find((r) => !okCodes.includes(r.status.code));
    if (bad) throw new SpireApiError(`Entry.${method}`, target, bad.status.code, bad.status.message);
  };

  /** Creates entries; one that exists already (ALREADY_EXISTS, "similar entry") counts as done, with its id. */
  const createEntries = async (entries: ManagedEntry[]): Promise<{ id: string; existed: boolean }[]> => {
    if (entries.length === 0) return [];
    const res = await call<{ results: BatchResult[] }>(entry, 'BatchCreateEntry', {
      entries: entries.map(entryMsg),
    });
    check('BatchCreateEntry', res.results, [grpc.status.OK, grpc.status.ALREADY_EXISTS]);
    return res.results.map((r) => ({
      id: r.entry?.id ?? '',
      existed: r.status.code === grpc.status.ALREADY_EXISTS,
    }));
  };

  /** ListEntries with `filter`, every page. */
  const listEntries = async (filter: object): Promise<EntryMsg[]> => {
    const out: EntryMsg[] = [];
    let page_token = '';
    do {
      const res = await call<{ entries: EntryMsg[]; next_page_token: string }>(entry, 'ListEntries', {
        filter,
        page_size: 500,
        page_token,
      });
      out.push(...res.entries);
      page_token = res.next_page_token;
    } while (page_token);
    return out;
  };

  return {
    /** The server's trust domain, as its bundle names it. */
    async trustDomain(): Promise<string> {
      return (await call<{ trust_domain: string }>(bundle, 'GetBundle', {})).trust_domain;
    },

    /** The server's X.509 roots (DER). */
    async x509Roots(): Promise<Buffer[]> {
      const res = await call<{ x509_authorities: { asn1: Buffer }[] }>(bundle, 'GetBundle', {});
      return res.x509_authorities.map((a) => a.asn1);
    },

    /** Every entry under `parentId`, following pages. */
    async entriesUnder(parentId: string): Promise<ManagedEntry[]> {
      return (await listEntries({ by_parent_id: toMsg(parentId) })).map((e) => ({
        id: e.id,
        spiffeId: fromMsg(e.spiffe_id),
        parentId: fromMsg(e.parent_id),
        selectors: e.selectors.map((s) => `${s.type}:${s.value}`),
        x509SvidTtl: e.x509_svid_ttl,
        jwtSvidTtl: e.jwt_svid_ttl,
        hint: e.hint,
        downstream: e.downstream,
      }));
    },

    createEntries,

    /** Applies a reconcile plan; ALREADY_EXISTS on create counts as done (another run got there first). */
    async apply(plan: ReconcilePlan): Promise<void> {
      await createEntries(plan.create);
      if (plan.update.length) {
        const res = await call<{ results: BatchResult[] }>(entry, 'BatchUpdateEntry', {
          entries: plan.update.map(entryMsg),
          input_mask: { selectors: true, x509_svid_ttl: true, jwt_svid_ttl: true, hint: true },
        });
        check('BatchUpdateEntry', res.results);
      }
      if (plan.delete.length) {
        const res = await call<{ results: BatchResult[] }>(entry, 'BatchDeleteEntry', { ids: plan.delete });
        check('BatchDeleteEntry', res.results, [grpc.status.OK, grpc.status.NOT_FOUND]);
      }
    },

    /** Creates one downstream entry; ALREADY_EXISTS reports the existing entry's id (SPIRE sends it). */
    async createEntry(spec: DownstreamEntrySpec): Promise<{ id: string; existed: boolean }> {
      const [created] = await createEntries([{ ...spec, downstream: true }]);
      if (!created?.id) {
        throw new SpireApiError(
          'Entry.BatchCreateEntry',
          target,
          grpc.status.INTERNAL,
          'result without entry',
        );
      }
      return created;
    },

    /** Every entry with this SPIFFE ID, following pages. */
    async entriesFor(spiffeId: string): Promise<ListedEntry[]> {
      return (await listEntries({ by_spiffe_id: toMsg(spiffeId) })).map((e) => ({
        id: e.id,
        spiffeId: fromMsg(e.spiffe_id),
        parentId: fromMsg(e.parent_id),
        downstream: e.downstream,
        hint: e.hint,
        createdAt: e.created_at,
      }));
    },

    /** Deletes entries by id; one that is already gone counts as deleted. */
    async deleteEntries(ids: readonly string[]): Promise<void> {
      if (ids.length === 0) return;
      const res = await call<{ results: BatchResult[] }>(entry, 'BatchDeleteEntry', { ids: [...ids] });
      check('BatchDeleteEntry', res.results, [grpc.status.OK, grpc.status.NOT_FOUND]);
    },

    /** Agent.GetAgent: the attested node's SVID expiry, or null when SPIRE has no such agent (NOT_FOUND). */
    async agent(agentId: string): Promise<{ expiresAt: number; banned: boolean } | null> {
      try {
        const res = await call<{ x509svid_expires_at: number; banned: boolean }>(agent, 'GetAgent', {
          id: toMsg(agentId),
          output_mask: { x509svid_expires_at: true, banned: true },
        });
        return { expiresAt: res.x509svid_expires_at, banned: res.banned };
      } catch (err) {
        if (err instanceof SpireApiError && err.code === grpc.status.NOT_FOUND) return null;
        throw err;
      }
    },

    close(): void {
      entry.close();
      bundle.close();
      agent.close();
    },
  };
}

export type ServerClient = ReturnType<typeof serverClient>;
