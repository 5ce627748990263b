import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assessIdentity, certificateExpiry, inspectIdentity } from '../../../src/spire/identity.js';

x509.cryptoProvider.set(webcrypto);

const EC = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const AGENT_ID = 'spiffe://example.org/spire/agent/join_token/2f6a1b';
const NOT_AFTER = new Date('2030-06-01T12:00:00.000Z');
const NOT_BEFORE = new Date('2025-06-01T00:00:00.000Z');

const b64 = (data: string | ArrayBuffer) =>
  (typeof data === 'string' ? Buffer.from(data) : Buffer.from(data)).toString('base64');

interface Fixture {
  leafPem: string;
  leafDer: Buffer;
  caPem: string;
  leafKey: string;
  otherKey: string;
}

async function pkcs8(key: webcrypto.CryptoKey): Promise<string> {
  return b64(await webcrypto.subtle.exportKey('pkcs8', key));
}

async function makeFixture(): Promise<Fixture> {
  const caKeys = await webcrypto.subtle.generateKey(EC, true, ['sign', 'verify']);
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name: 'CN=test CA',
    notBefore: new Date('2025-01-01T00:00:00Z'),
    notAfter: new Date('2035-01-01T00:00:00Z'),
    signingAlgorithm: EC,
    keys: caKeys,
    extensions: [new x509.BasicConstraintsExtension(true, undefined, true)],
  });
  const leafKeys = await webcrypto.subtle.generateKey(EC, true, ['sign', 'verify']);
  const leaf = await x509.X509CertificateGenerator.create({
    serialNumber: '02',
    subject: 'O=SPIRE',
    issuer: ca.subject,
    notBefore: NOT_BEFORE,
    notAfter: NOT_AFTER,
    signingAlgorithm: EC,
    publicKey: leafKeys.publicKey,
    signingKey: caKeys.privateKey,
    extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'url', value: AGENT_ID }])],
  });
  const otherKeys = await webcrypto.subtle.generateKey(EC, true, ['sign', 'verify']);
  return {
    leafPem: leaf.toString('pem'),
    leafDer: Buffer.from(leaf.rawData),
    caPem: ca.toString('pem'),
    leafKey: await pkcs8(leafKeys.privateKey),
    otherKey: await pkcs8(otherKeys.privateKey),
  };
}

let fx: Fixture;
beforeAll(async () => {
  fx = await makeFixture();
});

// Shaped like spire `pkg/agent/storage`: each certificate is PEM text, base64-encoded by Go's encoding/json.
function agentData(
  svid: unknown[] | null = [b64(fx.leafPem), b64(fx.caPem)],
  bundle: unknown = [b64(fx.caPem)],
) {
  return JSON.stringify({
    svid,
    bundle,
    reattestable: false,
    bootstrap_use: 0,
    bootstrap_start_time: '0001-01-01T00:00:00Z',
    connection_attempts: 0,
  });
}

const keysJson = (keys: Record<string, string> | null) => JSON.stringify({ keys }, null, '\t');
const at = (iso: string) => new Date(iso);

describe('assessIdentity', () => {
  it('accepts an unexpired SVID whose key is in keys.json', () => {
    expect(
      assessIdentity(agentData(), keysJson({ 'agent-svid-A': fx.leafKey }), at('2030-01-01T00:00:00Z'), 60),
    ).toEqual({
      status: 'valid',
      spiffeId: AGENT_ID,
      expiresAt: NOT_AFTER,
      issuedAt: NOT_BEFORE,
      reason: 'the stored SVID is valid until 2030-06-01T12:00:00.000Z',
    });
  });

  it('finds the SVID key in either rotation slot, as the agent does (by public key)', () => {
    const keys = keysJson({ 'agent-svid-A': fx.otherKey, 'agent-svid-B': fx.leafKey });
    expect(assessIdentity(agentData(), keys, at('2030-01-01T00:00:00Z'), 60).status).toBe('valid');
  });

  const keys = () => keysJson({ 'agent-svid-A': fx.leafKey });
  it.each([
    ['expiring', '2030-06-01T11:59:30Z', 'the stored SVID expires in 30s, within the 60s safety margin'],
    ['expiring', '2030-06-01T11:59:00Z', 'the stored SVID expires in 60s, within the 60s safety margin'],
    ['expired', '2030-06-01T12:00:00Z', 'the stored SVID expired at 2030-06-01T12:00:00.000Z'],
    ['expired', '2031-01-01T00:00:00Z', 'the stored SVID expired at 2030-06-01T12:00:00.000Z'],
  ])('reports %s at %s', (status, now, reason) => {
    expect(assessIdentity(agentData(), keys(), at(now), 60)).toEqual({
      status,
      spiffeId: AGENT_ID,
      expiresAt: NOT_AFTER,
      issuedAt: NOT_BEFORE,
      reason,
    });
  });

  it.each([
    ['keys.json is absent', () => undefined, 'keys.json does not exist'],
    [
      'keys.json holds another key',
      () => keysJson({ 'agent-svid-A': fx.otherKey }),
      "keys.json holds no key matching the stored SVID's public key",
    ],
    [
      'keys.json is empty',
      () => keysJson(null),
      "keys.json holds no key matching the stored SVID's public key",
    ],
  ])('reports no-key when %s', (_name, keysText, reason) => {
    expect(assessIdentity(agentData(), keysText(), at('2030-01-01T00:00:00Z'), 60)).toEqual({
      status: 'no-key',
      spiffeId: AGENT_ID,
      expiresAt: NOT_AFTER,
      issuedAt: NOT_BEFORE,
      reason,
    });
  });

  it.each([
    ['agent-data.json is absent', () => undefined, 'agent-data.json does not exist'],
    ['the SVID list is null (Go nil slice)', () => agentData(null), 'agent-data.json holds no SVID'],
    ['the SVID list is empty', () => agentData([]), 'agent-data.json holds no SVID'],
  ])('reports missing when %s', (_name, dataText, reason) => {
    expect(assessIdentity(dataText(), keys(), at('2030-01-01T00:00:00Z'), 60)).toEqual({
      status: 'missing',
      reason,
    });
  });

  it.each([
    ['truncated JSON', () => '{"svid": [', () => keys(), 'agent-data.json is not a JSON object'],
    ['a JSON array', () => '[]', () => keys(), 'agent-data.json is not a JSON object'],
    [
      'svid not a list',
      () => JSON.stringify({ svid: 'x' }),
      () => keys(),
      'agent-data.json: "svid" is not a list',
    ],
    [
      'svid entry not base64',
      () => agentData(['%%%']),
      () => keys(),
      'agent-data.json: "svid"[0] is not a base64-encoded PEM certificate',
    ],
    [
      'svid entry raw DER instead of PEM',
      () => agentData([fx.leafDer.toString('base64')]),
      () => keys(),
      'agent-data.json: "svid"[0] is not a base64-encoded PEM certificate',
    ],
    [
      'svid entry a broken certificate',
      () => agentData([b64('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n')]),
      () => keys(),
      'agent-data.json: "svid"[0] is not a valid X.509 certificate',
    ],
    [
      'a bad bundle certificate',
      () => agentData(undefined, [b64(fx.caPem), 42]),
      () => keys(),
      'agent-data.json: "bundle"[1] is not a base64-encoded PEM certificate',
    ],
    ['truncated keys.json', () => agentData(), () => '{"keys": {', 'keys.json is not a JSON object'],
    [
      'keys not an object',
      () => agentData(),
      () => JSON.stringify({ keys: [] }),
      'keys.json: "keys" is not an object',
    ],
    [
      'a key that is not PKCS#8',
      () => agentData(),
      () => keysJson({ 'agent-svid-A': b64('not a key') }),
      'keys.json: key "agent-svid-A" is not a PKCS#8 private key',
    ],
    [
      'a key that is not base64',
      () => agentData(),
      () => keysJson({ 'agent-svid-B': 'a b' }),
      'keys.json: key "agent-svid-B" is not base64',
    ],
    [
      'keys.json corrupt even without an SVID',
      () => agentData(null),
      () => 'nope',
      'keys.json is not a JSON object',
    ],
  ])('reports corrupt for %s', (_name, dataText, keysText, reason) => {
    expect(assessIdentity(dataText(), keysText(), at('2030-01-01T00:00:00Z'), 60)).toEqual({
      status: 'corrupt',
      reason,
    });
  });

  it('reports corrupt when the SVID has no spiffe:// URI SAN', () => {
    expect(assessIdentity(agentData([b64(fx.caPem)]), keys(), at('2030-01-01T00:00:00Z'), 60)).toEqual({
      status: 'corrupt',
      reason: 'the stored SVID has no spiffe:// URI SAN',
    });
  });
});

describe('certificateExpiry', () => {
  it('reads notAfter from PEM text and from DER bytes', () => {
    expect(certificateExpiry(fx.leafPem)).toEqual(NOT_AFTER);
    expect(certificateExpiry(fx.leafDer)).toEqual(NOT_AFTER);
  });
});

describe('inspectIdentity', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'identity-test-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads agent-data.json from the data dir and keys.json from the key dir', async () => {
    const dataDir = join(dir, 'data');
    const keyDir = join(dir, 'keys');
    await mkdir(dataDir);
    await mkdir(keyDir);
    await writeFile(join(dataDir, 'agent-data.json'), agentData());
    await writeFile(join(keyDir, 'keys.json'), keysJson({ 'agent-svid-A': fx.leafKey }));
    const result = await inspectIdentity(dataDir, keyDir, at('2030-01-01T00:00:00Z'), 60);
    expect(result.status).toBe('valid');
  });

  it('reports missing for a data dir that does not exist yet', async () => {
    const result = await inspectIdentity(
      join(dir, 'none'),
      join(dir, 'none'),
      at('2030-01-01T00:00:00Z'),
      60,
    );
    expect(result).toEqual({ status: 'missing', reason: 'agent-data.json does not exist' });
  });
});
