import * as grpc from '@grpc/grpc-js';
import { callUnary, services } from '../../src/spire/proto.js';
import type { SimServer } from './topology.js';

// Registration calls a test makes on a simulated server's admin socket, as `spire-server token generate` and
// `spire-server entry create` would.

function adminClients(socket: string) {
  const creds = grpc.credentials.createInsecure();
  return {
    agent: new services.agent(`unix:${socket}`, creds),
    entry: new services.entry(`unix:${socket}`, creds),
  };
}

/** Mints a join token through the server's admin socket, as `spire-server token generate` does. */
export async function mintToken(
  server: SimServer,
  ttl = 600,
  agentId?: string,
): Promise<{ value: string; expires_at: number }> {
  const { agent, entry } = adminClients(server.socket);
  try {
    const agent_id = agentId
      ? { trust_domain: server.trustDomain, path: new URL(agentId).pathname }
      : undefined;
    return await callUnary(agent, 'CreateJoinToken', { ttl, agent_id });
  } finally {
    agent.close();
    entry.close();
  }
}

export interface EntrySpec {
  spiffeId: string;
  parentId: string;
  selectors: string[];
  downstream?: boolean;
  admin?: boolean;
  x509SvidTtl?: number;
}

const idMsg = (id: string) => {
  const u = /^spiffe:\/\/([^/]+)(\/.*)?$/.exec(id);
  return { trust_domain: u?.[1] ?? '', path: u?.[2] ?? '' };
};

/** BatchCreateEntry through the admin socket; returns each result's status code and entry id. */
export async function createEntries(
  server: SimServer,
  specs: EntrySpec[],
): Promise<{ code: number; id: string }[]> {
  const { agent, entry } = adminClients(server.socket);
  try {
    const entries = specs.map((s) => ({
      spiffe_id: idMsg(s.spiffeId),
      parent_id: idMsg(s.parentId),
      selectors: s.selectors.map((x) => {
        const i = x.indexOf(':');
        return { type: x.slice(0, i), value: x.slice(i + 1) };
      }),
      downstream: Boolean(s.downstream),
      admin: Boolean(s.admin),
      x509_svid_ttl: s.x509SvidTtl ?? 0,
    }));
    const res = await callUnary<{ results: { status: { code: number }; entry: { id: string } | null }[] }>(
      entry,
      'BatchCreateEntry',
      { entries },
    );
    return res.results.map((r) => ({ code: r.status.code, id: r.entry?.id ?? '' }));
  } finally {
    agent.close();
    entry.close();
  }
}

/** An entry as `spire-server entry show` lists it: its id and SPIFFE IDs as text. */
export interface ListedEntry {
  id: string;
  spiffeId: string;
  parentId: string;
}

type IdMsg = { trust_domain: string; path: string };
const idText = (id: IdMsg) => `spiffe://${id.trust_domain}${id.path}`;

/** ListEntries through an admin socket (the cluster server's or the nested server's), every page. */
export async function listEntries(socket: string): Promise<ListedEntry[]> {
  const { agent, entry } = adminClients(socket);
  try {
    const res = await callUnary<{ entries: { id: string; spiffe_id: IdMsg; parent_id: IdMsg }[] }>(
      entry,
      'ListEntries',
      {},
    );
    return res.entries.map((e) => ({
      id: e.id,
      spiffeId: idText(e.spiffe_id),
      parentId: idText(e.parent_id),
    }));
  } finally {
    agent.close();
    entry.close();
  }
}

/** BatchDeleteEntry through an admin socket, as `spire-server entry delete` does; returns each status code. */
export async function deleteEntries(socket: string, ids: string[]): Promise<number[]> {
  const { agent, entry } = adminClients(socket);
  try {
    const res = await callUnary<{ results: { status: { code: number } }[] }>(entry, 'BatchDeleteEntry', {
      ids,
    });
    return res.results.map((r) => r.status.code);
  } finally {
    agent.close();
    entry.close();
  }
}

export const joinTokenAgentId = (server: SimServer, token: string) =>
  `spiffe://${server.trustDomain}/spire/agent/join_token/${token}`;
