import * as protoLoader from '@grpc/proto-loader';
import { describe, expect, it } from 'vitest';
import { LOADER_OPTIONS, services } from '../../../src/spire/proto.js';

// Wire compatibility with SPIRE (spiffe/spire-api-sdk) and go-spiffe's workload.proto rests on these numbers and
// types; each row is `name number type` (type: a scalar, or the message/enum name; `[]` marks repeated; a proto
// map shows as a repeated entry message, which protobufjs names after the field).
const EXPECTED: Record<string, string[]> = {
  'spire.api.types.SPIFFEID': ['trust_domain 1 string', 'path 2 string'],
  'spire.api.types.Selector': ['type 1 string', 'value 2 string'],
  'spire.api.types.Status': ['code 1 int32', 'message 2 string'],
  'spire.api.types.JoinToken': ['value 1 string', 'expires_at 2 int64'],
  'spire.api.types.X509SVID': [
    'cert_chain 1 bytes[]',
    'id 2 SPIFFEID',
    'expires_at 3 int64',
    'hint 4 string',
  ],
  'spire.api.types.AttestationData': ['type 1 string', 'payload 2 bytes'],
  'spire.api.types.Entry': [
    'id 1 string',
    'spiffe_id 2 SPIFFEID',
    'parent_id 3 SPIFFEID',
    'selectors 4 Selector[]',
    'x509_svid_ttl 5 int32',
    'federates_with 6 string[]',
    'admin 7 bool',
    'downstream 8 bool',
    'expires_at 9 int64',
    'dns_names 10 string[]',
    'revision_number 11 int64',
    'store_svid 12 bool',
    'jwt_svid_ttl 13 int32',
    'hint 14 string',
    'created_at 15 int64',
  ],
  'spire.api.types.EntryMask': [
    'spiffe_id 2 bool',
    'parent_id 3 bool',
    'selectors 4 bool',
    'x509_svid_ttl 5 bool',
    'federates_with 6 bool',
    'admin 7 bool',
    'downstream 8 bool',
    'expires_at 9 bool',
    'dns_names 10 bool',
    'revision_number 11 bool',
    'store_svid 12 bool',
    'jwt_svid_ttl 13 bool',
    'hint 14 bool',
    'created_at 15 bool',
  ],
  'spire.api.types.SelectorMatch': ['selectors 1 Selector[]', 'match 2 MatchBehavior'],
  'spire.api.types.X509Certificate': ['asn1 1 bytes', 'tainted 2 bool'],
  'spire.api.types.Bundle': [
    'trust_domain 1 string',
    'x509_authorities 2 X509Certificate[]',
    'refresh_hint 4 int64',
    'sequence_number 5 uint64',
  ],
  'spire.api.server.agent.v1.CreateJoinTokenRequest': [
    'ttl 1 int32',
    'token 2 string',
    'agent_id 3 SPIFFEID',
  ],
  'spire.api.server.agent.v1.AttestAgentRequest': ['params 1 Params', 'challenge_response 2 bytes'],
  'spire.api.server.agent.v1.AttestAgentRequest.Params': [
    'data 1 AttestationData',
    'params 2 AgentX509SVIDParams',
  ],
  'spire.api.server.agent.v1.AgentX509SVIDParams': ['csr 1 bytes'],
  'spire.api.server.agent.v1.AttestAgentResponse': ['result 1 Result', 'challenge 2 bytes'],
  'spire.api.server.agent.v1.AttestAgentResponse.Result': ['svid 1 X509SVID', 'reattestable 2 bool'],
  'spire.api.types.Agent': [
    'id 1 SPIFFEID',
    'attestation_type 2 string',
    'x509svid_serial_number 3 string',
    'x509svid_expires_at 4 int64',
    'selectors 5 Selector[]',
    'banned 6 bool',
    'can_re_attest 7 bool',
  ],
  'spire.api.types.AgentMask': [
    'attestation_type 2 bool',
    'x509svid_serial_number 3 bool',
    'x509svid_expires_at 4 bool',
    'selectors 5 bool',
    'banned 6 bool',
    'can_re_attest 7 bool',
  ],
  'spire.api.server.agent.v1.ListAgentsRequest': [
    'filter 1 Filter',
    'output_mask 2 AgentMask',
    'page_size 3 int32',
    'page_token 4 string',
  ],
  'spire.api.server.agent.v1.ListAgentsRequest.Filter': [
    'by_attestation_type 1 string',
    'by_selector_match 2 SelectorMatch',
  ],
  'spire.api.server.agent.v1.ListAgentsResponse': ['agents 1 Agent[]', 'next_page_token 2 string'],
  'spire.api.server.agent.v1.GetAgentRequest': ['id 1 SPIFFEID', 'output_mask 2 AgentMask'],
  'spire.api.server.entry.v1.ListEntriesRequest': [
    'filter 1 Filter',
    'output_mask 2 EntryMask',
    'page_size 3 int32',
    'page_token 4 string',
  ],
  'spire.api.server.entry.v1.ListEntriesRequest.Filter': [
    'by_spiffe_id 1 SPIFFEID',
    'by_parent_id 2 SPIFFEID',
    'by_selectors 3 SelectorMatch',
  ],
  'spire.api.server.entry.v1.ListEntriesResponse': ['entries 1 Entry[]', 'next_page_token 2 string'],
  'spire.api.server.entry.v1.BatchCreateEntryRequest': ['entries 1 Entry[]', 'output_mask 2 EntryMask'],
  'spire.api.server.entry.v1.BatchCreateEntryResponse.Result': ['status 1 Status', 'entry 2 Entry'],
  'spire.api.server.entry.v1.BatchUpdateEntryRequest': [
    'entries 1 Entry[]',
    'input_mask 2 EntryMask',
    'output_mask 3 EntryMask',
  ],
  'spire.api.server.entry.v1.BatchUpdateEntryResponse.Result': ['status 1 Status', 'entry 2 Entry'],
  'spire.api.server.entry.v1.BatchDeleteEntryRequest': ['ids 1 string[]'],
  'spire.api.server.entry.v1.BatchDeleteEntryResponse.Result': ['status 1 Status', 'id 2 string'],
  'spire.api.server.entry.v1.GetAuthorizedEntriesRequest': ['output_mask 1 EntryMask'],
  'spire.api.server.entry.v1.GetAuthorizedEntriesResponse': ['entries 1 Entry[]'],
  'spire.api.server.svid.v1.NewX509SVIDParams': ['entry_id 1 string', 'csr 2 bytes'],
  'spire.api.server.svid.v1.BatchNewX509SVIDResponse.Result': ['status 1 Status', 'svid 2 X509SVID'],
  'spire.api.server.svid.v1.NewDownstreamX509CARequest': ['csr 1 bytes', 'preferred_ttl 2 int32'],
  'spire.api.server.svid.v1.NewDownstreamX509CAResponse': [
    'ca_cert_chain 1 bytes[]',
    'x509_authorities 2 bytes[]',
  ],
  'spire.api.server.bundle.v1.GetBundleRequest': ['output_mask 1 BundleMask'],
  X509SVIDRequest: [],
  X509SVIDResponse: ['svids 1 X509SVID[]', 'crl 2 bytes[]', 'federated_bundles 3 Federated_bundles[]'],
  X509SVID: [
    'spiffe_id 1 string',
    'x509_svid 2 bytes',
    'x509_svid_key 3 bytes',
    'bundle 4 bytes',
    'hint 5 string',
  ],
  'grpc.health.v1.HealthCheckRequest': ['service 1 string'],
  'grpc.health.v1.HealthCheckResponse': ['status 1 ServingStatus'],
};

interface Field {
  name: string;
  number: number;
  type: string;
  typeName: string;
  label: string;
}

const definition = protoLoader.loadSync(
  [
    'spire/api/server/agent/v1/agent.proto',
    'spire/api/server/entry/v1/entry.proto',
    'spire/api/server/svid/v1/svid.proto',
    'spire/api/server/bundle/v1/bundle.proto',
    'spiffe/workload/workload.proto',
    'grpc/health/v1/health.proto',
  ],
  LOADER_OPTIONS,
);

interface Descriptor {
  name: string;
  field: Field[];
  nestedType: Descriptor[];
}

/** A top-level message from the loaded definition, or a nested one (`Outer.Inner`) from its parent's descriptor. */
function descriptor(name: string): Descriptor | undefined {
  const top = definition[name] as { type?: Descriptor } | undefined;
  if (top?.type) return top.type;
  const dot = name.lastIndexOf('.');
  return descriptor(name.slice(0, dot))?.nestedType.find((n) => n.name === name.slice(dot + 1));
}

function describeMessage(name: string): string[] {
  const def = descriptor(name);
  if (!def) throw new Error(`message ${name} is not declared`);
  return def.field.map((f) => {
    const type = f.typeName
      ? (f.typeName.split('.').pop() as string)
      : f.type.replace('TYPE_', '').toLowerCase();
    return `${f.name} ${f.number} ${type}${f.label === 'LABEL_REPEATED' ? '[]' : ''}`;
  });
}

describe('our protos are wire-compatible with SPIRE and the Workload API', () => {
  it.each(Object.entries(EXPECTED))('%s has the expected field numbers and types', (name, fields) => {
    expect(describeMessage(name)).toEqual(fields);
  });

  it('declares the services under the paths SPIRE serves them on', () => {
    const paths = Object.values(services).flatMap((svc) => Object.values(svc.service).map((m) => m.path));
    expect(paths.sort()).toEqual(
      [
        '/SpiffeWorkloadAPI/FetchX509SVID',
        '/grpc.health.v1.Health/Check',
        '/spire.api.server.agent.v1.Agent/AttestAgent',
        '/spire.api.server.agent.v1.Agent/CreateJoinToken',
        '/spire.api.server.agent.v1.Agent/GetAgent',
        '/spire.api.server.agent.v1.Agent/ListAgents',
        '/spire.api.server.bundle.v1.Bundle/GetBundle',
        '/spire.api.server.entry.v1.Entry/BatchCreateEntry',
        '/spire.api.server.entry.v1.Entry/BatchDeleteEntry',
        '/spire.api.server.entry.v1.Entry/BatchUpdateEntry',
        '/spire.api.server.entry.v1.Entry/GetAuthorizedEntries',
        '/spire.api.server.entry.v1.Entry/ListEntries',
        '/spire.api.server.svid.v1.SVID/BatchNewX509SVID',
        '/spire.api.server.svid.v1.SVID/NewDownstreamX509CA',
      ].sort(),
    );
  });

  it('marks AttestAgent as a bidirectional stream and FetchX509SVID as a server stream', () => {
    const attest = services.agent.service.AttestAgent;
    const fetch = services.workload.service.FetchX509SVID;
    expect([attest?.requestStream, attest?.responseStream]).toEqual([true, true]);
    expect([fetch?.requestStream, fetch?.responseStream]).toEqual([false, true]);
  });
});
