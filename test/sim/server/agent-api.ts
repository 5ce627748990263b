import { randomUUID, X509Certificate } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import type { Faults, Stats } from '../common/faults.js';
import { rpcError } from '../common/grpc.js';
import type { Log } from '../common/log.js';
import { csrPublicKey, describe, issue } from '../common/x509.js';
import type { CaState } from './ca.js';
import type { ServerConfig } from './config.js';
import { type AttestedAgent, type DataStore, idMsg, idString } from './datastore.js';

interface Deps {
  config: ServerConfig;
  store: DataStore;
  ca: () => CaState;
  log: Log;
  faults: Faults;
  stats: Stats;
}

const TOKEN_USED = 'failed to attest: join token does not exist or has already been used';

/** Validates CreateJoinToken's agent_id as SPIRE's TrustDomainWorkloadIDFromProto does. */
function checkAgentId(id: { trust_domain: string; path: string } | null, td: string): string | undefined {
  if (!id) return undefined;
  const full = idString(id);
  if (!id.trust_domain) return 'trust domain is missing';
  if (id.path && !id.path.startsWith('/')) return 'path must have a leading slash';
  if (id.trust_domain !== td) return `"${full}" is not a member of trust domain "${td}"`;
  if (!id.path) return `"${full}" is not a workload in trust domain "${td}"; path is empty`;
  if (id.path === '/spire' || id.path.startsWith('/spire/')) {
    return `"${full}" is not a workload in trust domain "${td}"; path is in the reserved namespace`;
  }
  return undefined;
}

/** Validates an agent ID as SPIRE's TrustDomainAgentIDFromProto does (GetAgent, DeleteAgent). */
function checkAgentIdForLookup(
  id: { trust_domain: string; path: string } | null,
  td: string,
): string | undefined {
  if (!id) return 'request must specify SPIFFE ID';
  const full = idString(id);
  if (!id.trust_domain) return 'trust domain is missing';
  if (id.trust_domain !== td) return `"${full}" is not a member of trust domain "${td}"`;
  if (!id.path.startsWith('/spire/agent/')) {
    return `"${full}" is not an agent in trust domain "${td}"; path is not in the agent namespace`;
  }
  return undefined;
}

interface ListAgentsRequest {
  filter: { by_attestation_type: string } | null;
  page_size: number;
  page_token: string;
}

/** An attested node as the Agent API's types.Agent (join-token agents: no selectors, never reattestable). */
function agentMsg(a: AttestedAgent) {
  return {
    id: idMsg(a.spiffeId),
    attestation_type: 'join_token',
    x509svid_serial_number: a.serial,
    x509svid_expires_at: a.expiresAt,
    selectors: [],
    banned: a.serial === '',
    can_re_attest: false,
  };
}

/** SPIRE's Agent service: CreateJoinToken on the admin socket, AttestAgent (join_token) on the TCP endpoint. */
export function agentService({
  config,
  store,
  ca,
  log,
  faults,
  stats,
}: Deps): grpc.UntypedServiceImplementation {
  const td = config.trustDomain;
  const createJoinToken: grpc.handleUnaryCall<any, any> = (call, cb) => {
    stats.inc('create_join_token');
    const { ttl, token, agent_id } = call.request;
    if (!(ttl >= 1))
      return cb(rpcError(grpc.status.INVALID_ARGUMENT, 'ttl is required, you must provide one'));
    const bad = checkAgentId(agent_id, td);
    if (bad) return cb(rpcError(grpc.status.INVALID_ARGUMENT, `invalid agent ID: ${bad}`));
    const value: string = token || randomUUID();
    const expiresAt = Math.floor(Date.now() / 1000) + ttl;
    store.createToken(value, expiresAt);
    if (agent_id) {
      const parent = `spiffe://${td}/spire/agent/join_token/${value}`;
      store.createEntry({
        spiffe_id: agent_id,
        parent_id: idMsg(parent),
        selectors: [{ type: 'spiffe_id', value: parent }],
        x509_svid_ttl: 0,
        federates_with: [],
        admin: false,
        downstream: false,
        expires_at: 0,
        dns_names: [],
        store_svid: false,
        jwt_svid_ttl: 0,
        hint: '',
      });
    }
    stats.inc('join_tokens_created');
    cb(null, { value, expires_at: expiresAt });
  };

  const attestAgent: grpc.handleBidiStreamingCall<any, any> = (call) => {
    const fail = (code: grpc.status, msg: string) => {
      stats.inc('attest_failed');
      log.error(code === grpc.status.INVALID_ARGUMENT ? `Invalid argument: ${msg}` : msg, {
        subsystem_name: 'api',
      });
      call.emit('error', rpcError(code, msg));
    };
    call.once('data', (req: any) => {
      stats.inc('attest');
      attest(req).then(
        (res) => {
          call.write(res);
          call.end();
        },
        (err: grpc.ServiceError) => fail(err.code ?? grpc.status.INTERNAL, err.details ?? String(err)),
      );
    });
    call.on('error', () => {});
  };

  async function attest(req: any): Promise<unknown> {
    await faults.delay();
    const p = req?.params;
    const malformed = (what: string) => rpcError(grpc.status.INVALID_ARGUMENT, `malformed param: ${what}`);
    if (!p) throw malformed('missing params');
    if (!p.data) throw malformed('missing attestation data');
    if (!p.params) throw malformed('missing X509-SVID parameters');
    if (!p.params.csr?.length) throw malformed('missing CSR');
    if (!p.data.type) throw malformed('missing attestation data type');
    if (!p.data.payload?.length) throw malformed('missing attestation data payload');
    if (p.data.type !== 'join_token') {
      throw rpcError(
        grpc.status.INVALID_ARGUMENT,
        `failed to attest: could not find node attestor type "${p.data.type}"`,
      );
    }
    const token = Buffer.from(p.data.payload).toString('utf8');
    // SPIRE burns a token it refuses, so the knob does too: a retry with the same token gets the same answer.
    if (faults.take('rejectAttestations')) {
      store.takeToken(token);
      throw rpcError(grpc.status.INVALID_ARGUMENT, TOKEN_USED);
    }
    // SPIRE deletes the token before it checks the expiry, so an expired token is burned as well.
    const expiresAt = store.takeToken(token);
    if (expiresAt === undefined) throw rpcError(grpc.status.INVALID_ARGUMENT, TOKEN_USED);
    if (expiresAt * 1000 < Date.now()) throw rpcError(grpc.status.INVALID_ARGUMENT, 'join token expired');
    let publicKey: Awaited<ReturnType<typeof csrPublicKey>>;
    try {
      publicKey = await csrPublicKey(p.params.csr);
    } catch (err) {
      throw rpcError(grpc.status.INVALID_ARGUMENT, `failed to parse CSR: ${(err as Error).message}`);
    }
    const agentId = `spiffe://${td}/spire/agent/join_token/${token}`;
    const state = ca();
    const leaf = await issue({
      authority: state.authority,
      publicKey,
      spiffeId: agentId,
      ttlSeconds: config.agentTtlSeconds,
    });
    const { notAfter } = describe(leaf);
    const expires = Math.floor(notAfter.getTime() / 1000);
    store.putAgent({
      spiffeId: agentId,
      // The attested node's CertSerialNumber, which later calls must present (AgentAuthorizer).
      serial: BigInt(`0x${new X509Certificate(leaf).serialNumber}`).toString(10),
      expiresAt: expires,
      attestedAt: Math.floor(Date.now() / 1000),
    });
    stats.inc('attest_ok');
    log.info('Agent attestation request completed', {
      agent_id: agentId,
      node_attestor_type: 'join_token',
      subsystem_name: 'api',
    });
    return {
      result: {
        svid: { cert_chain: [leaf, ...state.chain], id: idMsg(agentId), expires_at: expires, hint: '' },
        reattestable: false,
      },
    };
  }

  // pkg/server/api/agent/v1 GetAgent: NOT_FOUND "agent not found" for an ID with no attested node.
  const getAgent: grpc.handleUnaryCall<{ id: { trust_domain: string; path: string } | null }, unknown> = (
    call,
    cb,
  ) => {
    stats.inc('get_agent');
    const bad = checkAgentIdForLookup(call.request.id, td);
    if (bad) return cb(rpcError(grpc.status.INVALID_ARGUMENT, `invalid agent ID: ${bad}`));
    const node = store.agent(idString(call.request.id));
    if (!node) return cb(rpcError(grpc.status.NOT_FOUND, 'agent not found'));
    cb(null, agentMsg(node));
  };

  // ListAgents with pagination by SPIFFE ID; only the attestation-type filter is honoured.
  const listAgents: grpc.handleUnaryCall<ListAgentsRequest, unknown> = (call, cb) => {
    stats.inc('list_agents');
    const { filter, page_size, page_token } = call.request;
    let list = store.agents().sort((a, b) => a.spiffeId.localeCompare(b.spiffeId));
    if (filter?.by_attestation_type && filter.by_attestation_type !== 'join_token') list = [];
    const from = page_token ? list.findIndex((a) => a.spiffeId > page_token) : 0;
    const start = from < 0 ? list.length : from;
    const page = page_size > 0 ? list.slice(start, start + page_size) : list.slice(start);
    const more = page_size > 0 && start + page_size < list.length;
    cb(null, { agents: page.map(agentMsg), next_page_token: more ? (page.at(-1)?.spiffeId ?? '') : '' });
  };

  return {
    CreateJoinToken: createJoinToken,
    AttestAgent: attestAgent,
    GetAgent: getAgent,
    ListAgents: listAgents,
  };
}
