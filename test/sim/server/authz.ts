import { randomUUID } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { goRpcError, rpcError } from '../common/grpc.js';
import type { Log } from '../common/log.js';
import { peerSpiffeId } from '../common/tls.js';
import type { ServerConfig } from './config.js';
import { type DataStore, idString } from './datastore.js';

// pkg/server/api/middleware/authorization*.go with the default policy (pkg/server/authpolicy/policy_data.json):
// each method allows any caller, local callers, admins (admin_ids or an entry with `admin: true` for the
// caller's SPIFFE ID), downstream callers (an entry with `downstream: true`) or attested agents.

type Rule = { any?: true; local?: true; admin?: true; downstream?: true; agent?: true };

const POLICY: Record<string, Rule> = {
  '/spire.api.server.agent.v1.Agent/AttestAgent': { any: true },
  '/spire.api.server.agent.v1.Agent/CreateJoinToken': { admin: true, local: true },
  '/spire.api.server.agent.v1.Agent/GetAgent': { admin: true, local: true },
  '/spire.api.server.agent.v1.Agent/ListAgents': { admin: true, local: true },
  '/spire.api.server.entry.v1.Entry/ListEntries': { admin: true, local: true },
  '/spire.api.server.entry.v1.Entry/BatchCreateEntry': { admin: true, local: true },
  '/spire.api.server.entry.v1.Entry/BatchUpdateEntry': { admin: true, local: true },
  '/spire.api.server.entry.v1.Entry/BatchDeleteEntry': { admin: true, local: true },
  '/spire.api.server.entry.v1.Entry/GetAuthorizedEntries': { agent: true },
  '/spire.api.server.svid.v1.SVID/BatchNewX509SVID': { agent: true },
  '/spire.api.server.svid.v1.SVID/NewDownstreamX509CA': { downstream: true },
  '/spire.api.server.bundle.v1.Bundle/GetBundle': { any: true },
};

/** Who called: local (admin socket) or a TCP peer with the SPIFFE ID of its verified X509-SVID, if any. */
export interface Caller {
  local: boolean;
  addr?: string;
  id?: string;
  /** The caller's leaf certificate: serial (decimal, as Go prints big.Int) and expiry. */
  svid?: { serial: string; notAfter: number };
}

type AnyCall = Pick<grpc.ServerUnaryCall<unknown, unknown>, 'getAuthContext' | 'getPeer'>;

/**
 * The caller of a TCP call. grpc-js only reports a peer certificate that Node verified against the server's
 * trust bundle, which is what SPIRE's VerifyPeerCertificate hook accepts.
 */
export function tcpCaller(call: AnyCall): Caller {
  const cert = call.getAuthContext()?.sslPeerCertificate;
  const addr = call.getPeer();
  if (!cert?.raw) return { local: false, addr };
  return {
    local: false,
    addr,
    id: peerSpiffeId(cert),
    svid: {
      serial: BigInt(`0x${cert.serialNumber}`).toString(10),
      notAfter: new Date(cert.valid_to).getTime(),
    },
  };
}

/** AgentAuthorizer (endpoints/middleware.go): an unexpired SVID whose serial is the attested node's. */
function agentDenial(caller: Caller, store: DataStore, log: Log): string | undefined {
  if (!caller.svid || !caller.id) return 'caller does not have an X509-SVID';
  if (Date.now() > caller.svid.notAfter) {
    log.error('Agent SVID is expired');
    return `agent "${caller.id}" SVID is expired`;
  }
  const node = store.agent(caller.id);
  if (!node) {
    log.error('Agent is not attested');
    return `agent "${caller.id}" is not attested`;
  }
  if (node.serial === '') {
    log.error('Agent is banned');
    return `agent "${caller.id}" is banned`;
  }
  if (node.serial !== caller.svid.serial) {
    log.error('Agent SVID is not active', {
      serial_num: node.serial,
      svid_serial_number: caller.svid.serial,
    });
    return `agent "${caller.id}" expected to have serial number "${node.serial}"; has "${caller.svid.serial}"`;
  }
  return undefined;
}

/** Authorizes `method` for `caller`; the PermissionDenied error SPIRE answers, or undefined when allowed. */
export function authorize(
  method: string,
  caller: Caller,
  deps: { config: ServerConfig; store: DataStore; log: Log },
): grpc.ServiceError | undefined {
  const rule = POLICY[method] ?? {};
  if (rule.any) return undefined;
  if (rule.local && caller.local) return undefined;
  const entries = caller.id ? deps.store.entries().filter((e) => idString(e.spiffe_id) === caller.id) : [];
  if (rule.admin && caller.id && deps.config.adminIds.includes(caller.id)) return undefined;
  if (rule.admin && entries.some((e) => e.admin)) return undefined;
  if (rule.downstream && entries.some((e) => e.downstream)) return undefined;
  const [service = '', name = ''] = method.slice(1).replace('spire.api.server.', '').split('/');
  const log = deps.log.with({
    caller_addr: caller.local ? undefined : caller.addr,
    caller_id: caller.id,
    method: name,
    request_id: randomUUID(),
    service,
    subsystem_name: 'api',
  });
  if (rule.agent && !caller.local && !agentDenial(caller, deps.store, log)) return undefined;
  const denied = rpcError(grpc.status.PERMISSION_DENIED, `authorization denied for method ${method}`);
  log.error('Failed to authenticate caller', { error: goRpcError(denied) });
  return denied;
}
