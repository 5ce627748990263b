// What the broker needs of the cluster SPIRE server, as an interface: today over its admin socket (the project's
// own clients), later also over the mTLS TCP endpoint with an admin X509-SVID.

import * as grpc from '@grpc/grpc-js';
import { callUnary, services } from '../spire/proto.js';
import { type DownstreamEntrySpec, type ListedEntry, serverClient } from '../spire/server-client.js';
import { spireServerSource } from '../token/source-spire-server.js';

export type { DownstreamEntrySpec, ListedEntry };

export interface MintedJoinToken {
  readonly token: string;
  readonly expiresAt: Date;
}

/** Every call rejects with a SpireApiError or a TokenError; both carry SPIRE's code and words, never a token. */
export interface BrokerSpire {
  /** Agent.CreateJoinToken; with `agentId`, SPIRE also creates the alias entry. */
  createJoinToken(ttlSeconds: number, agentId: string | undefined): Promise<MintedJoinToken>;
  /** Entry.BatchCreateEntry of one downstream entry; ALREADY_EXISTS gives the existing entry's id. */
  createEntry(spec: DownstreamEntrySpec): Promise<{ id: string; existed: boolean }>;
  /** Entry.ListEntries by SPIFFE ID. */
  entriesFor(spiffeId: string): Promise<ListedEntry[]>;
  /** Entry.BatchDeleteEntry; already gone counts as deleted. */
  deleteEntries(ids: readonly string[]): Promise<void>;
  /** Agent.GetAgent: null when SPIRE has no attested agent with this ID. */
  agent(agentId: string): Promise<{ expiresAt: number; banned: boolean } | null>;
  /** grpc.health.v1 Check, as `spire-server healthcheck` asks it. */
  healthy(): Promise<boolean>;
  close(): void;
}

/** The broker's SPIRE over the server's admin unix socket. */
export function adminSocketSpire(options: {
  socketPath: string;
  trustDomain: string;
  timeoutMs: number;
}): BrokerSpire {
  const client = serverClient(options.socketPath, options.timeoutMs);
  const health = new services.health(`unix:${options.socketPath}`, grpc.credentials.createInsecure());
  return {
    async createJoinToken(ttlSeconds, agentId) {
      const got = await spireServerSource({
        socketPath: options.socketPath,
        ttlSeconds,
        trustDomain: options.trustDomain,
        timeoutMs: options.timeoutMs,
        ...(agentId === undefined ? {} : { agentId }),
      }).acquire();
      if (!got) throw new Error('SPIRE server returned no join token');
      // SPIRE always sets expires_at; the fallback is the TTL asked for.
      return { token: got.token, expiresAt: got.expiresAt ?? new Date(Date.now() + ttlSeconds * 1000) };
    },
    createEntry: (spec) => client.createEntry(spec),
    entriesFor: (id) => client.entriesFor(id),
    deleteEntries: (ids) => client.deleteEntries(ids),
    agent: (id) => client.agent(id),
    async healthy() {
      try {
        const res = await callUnary<{ status: string }>(
          health,
          'Check',
          {},
          { deadline: new Date(Date.now() + 2_000) },
        );
        return res.status === 'SERVING';
      } catch {
        return false;
      }
    },
    close() {
      client.close();
      health.close();
    },
  };
}
