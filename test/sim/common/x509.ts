// @peculiar/x509 resolves its classes through tsyringe, which needs the Reflect metadata polyfill loaded first.
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

type CryptoKey = webcrypto.CryptoKey;

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const ALG: webcrypto.EcKeyGenParams & webcrypto.EcdsaParams = {
  name: 'ECDSA',
  namedCurve: 'P-256',
  hash: 'SHA-256',
};
const subtle = webcrypto.subtle;

/** A signing authority: its certificate (DER) and PKCS#8 key (DER). */
export interface Authority {
  cert: Buffer;
  key: Buffer;
}

/** A key pair whose private half is kept as PKCS#8 DER, the form SPIRE's key managers and Workload API use. */
export interface KeyPair {
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  pkcs8: Buffer;
}

export async function generateKeyPair(): Promise<KeyPair> {
  const pair = (await subtle.generateKey(ALG, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const pkcs8 = Buffer.from(await subtle.exportKey('pkcs8', pair.privateKey));
  return { privateKey: pair.privateKey, publicKey: pair.publicKey, pkcs8 };
}

/** Re-imports a PKCS#8 DER key (and derives its public half) as stored on disk. */
export async function importKeyPair(pkcs8: Buffer): Promise<KeyPair> {
  const privateKey = await subtle.importKey('pkcs8', pkcs8, ALG, true, ['sign']);
  const jwk = await subtle.exportKey('jwk', privateKey);
  const publicKey = await subtle.importKey('jwk', { ...jwk, d: undefined, key_ops: ['verify'] }, ALG, true, [
    'verify',
  ]);
  return { privateKey, publicKey, pkcs8 };
}

function serial(): string {
  return Buffer.from(webcrypto.getRandomValues(new Uint8Array(16)))
    .toString('hex')
    .replace(/^[89a-f]/, '1');
}

function window(ttlSeconds: number, notAfterCap?: Date): { notBefore: Date; notAfter: Date } {
  const now = Date.now();
  let notAfter = new Date(now + ttlSeconds * 1000);
  // SPIRE never signs past its own CA's expiry; it shortens the SVID instead.
  if (notAfterCap && notAfter > notAfterCap) notAfter = notAfterCap;
  return { notBefore: new Date(now - 10_000), notAfter };
}

/**
 * Creates a self-signed root CA for a trust domain, as SPIRE does when it has no UpstreamAuthority, with
 * SPIRE's default subject: C=US, O=SPIFFE and the certificate's serial number as serialNumber
 * (credtemplate.BuildSelfSignedX509CATemplate), so two servers' roots never share a name.
 */
export async function createRootCA(
  trustDomain: string,
  ttlSeconds: number,
  keys?: KeyPair,
): Promise<Authority> {
  keys ??= await generateKeyPair();
  const sn = serial();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: sn,
    name: `C=US, O=SPIFFE, 2.5.4.5=${BigInt(`0x${sn}`).toString(10)}`,
    keys: { privateKey: keys.privateKey, publicKey: keys.publicKey },
    signingAlgorithm: ALG,
    ...window(ttlSeconds),
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      new x509.SubjectAlternativeNameExtension([{ type: 'url', value: `spiffe://${trustDomain}` }]),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { cert: Buffer.from(cert.rawData), key: keys.pkcs8 };
}

interface IssueOptions {
  authority: Authority;
  publicKey: CryptoKey;
  spiffeId: string;
  ttlSeconds: number;
  isCA?: boolean;
  /** Subject DN; defaults to SPIRE's SVID subject `C=US, O=SPIRE`. */
  subject?: string;
  dnsNames?: string[];
  ipAddresses?: string[];
}

/** Signs a certificate for `publicKey` under `authority`: an X509-SVID, or an intermediate CA with `isCA`. */
export async function issue(opts: IssueOptions): Promise<Buffer> {
  const issuer = new x509.X509Certificate(opts.authority.cert);
  const signer = await importKeyPair(opts.authority.key);
  const usage = opts.isCA
    ? x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign
    : x509.KeyUsageFlags.digitalSignature |
      x509.KeyUsageFlags.keyEncipherment |
      x509.KeyUsageFlags.keyAgreement;
  const names: x509.JsonGeneralName[] = [{ type: 'url', value: opts.spiffeId }];
  for (const dns of opts.dnsNames ?? []) names.push({ type: 'dns', value: dns });
  for (const ip of opts.ipAddresses ?? []) names.push({ type: 'ip', value: ip });
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(Boolean(opts.isCA), undefined, true),
    new x509.KeyUsagesExtension(usage, true),
    new x509.SubjectAlternativeNameExtension(names),
    await x509.SubjectKeyIdentifierExtension.create(opts.publicKey),
    await x509.AuthorityKeyIdentifierExtension.create(issuer, false),
  ];
  if (!opts.isCA) {
    extensions.push(
      new x509.ExtendedKeyUsageExtension([
        x509.ExtendedKeyUsage.serverAuth,
        x509.ExtendedKeyUsage.clientAuth,
      ]),
    );
  }
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: opts.subject ?? 'C=US, O=SPIRE',
    issuer: issuer.subject,
    publicKey: opts.publicKey,
    signingKey: signer.privateKey,
    signingAlgorithm: ALG,
    ...window(opts.ttlSeconds, issuer.notAfter),
    extensions,
  });
  return Buffer.from(cert.rawData);
}

/** Creates a PKCS#10 request (DER) for a fresh key, as SPIRE agents do before attesting or minting. */
export async function createCsr(keys: KeyPair): Promise<Buffer> {
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: 'C=US, O=SPIRE',
    keys: { privateKey: keys.privateKey, publicKey: keys.publicKey },
    signingAlgorithm: ALG,
  });
  return Buffer.from(csr.rawData);
}

/** Checks a CSR's self-signature and returns its public key; only the key is used, as in SPIRE. */
export async function csrPublicKey(der: Buffer): Promise<CryptoKey> {
  let csr: x509.Pkcs10CertificateRequest;
  try {
    csr = new x509.Pkcs10CertificateRequest(der);
  } catch {
    throw new Error('failed to parse CSR');
  }
  if (!(await csr.verify())) throw new Error('invalid CSR signature');
  return csr.publicKey.export(ALG, ['verify']);
}

export function toPem(der: Buffer, label = 'CERTIFICATE'): string {
  const body = der.toString('base64').replace(/.{1,64}/g, '$&\n');
  return `-----BEGIN ${label}-----\n${body}-----END ${label}-----\n`;
}

/** Splits PEM text into DER blocks of the given label. */
export function fromPem(pem: string, label = 'CERTIFICATE'): Buffer[] {
  const re = new RegExp(`-----BEGIN ${label}-----([^-]+)-----END ${label}-----`, 'g');
  return [...pem.matchAll(re)].map((m) => Buffer.from((m[1] ?? '').replace(/\s+/g, ''), 'base64'));
}

/** Splits concatenated DER certificates, the Workload API's chain and bundle encoding. */
export function splitDer(buf: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let offset = 0;
  while (offset < buf.length) {
    // DER SEQUENCE: 0x30, then a short or long-form length.
    const first = buf[offset + 1] ?? 0;
    const lenBytes = first & 0x80 ? first & 0x7f : 0;
    let len = lenBytes ? 0 : first;
    for (let i = 0; i < lenBytes; i++) len = len * 256 + (buf[offset + 2 + i] ?? 0);
    const end = offset + 2 + lenBytes + len;
    out.push(buf.subarray(offset, end));
    offset = end;
  }
  return out;
}

/** Reads the SPIFFE ID (URI SAN) and expiry of a DER certificate. */
export function describe(der: Buffer): { spiffeId: string | undefined; notAfter: Date; isCA: boolean } {
  const cert = new x509.X509Certificate(der);
  const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
  const uri = san?.names.items.find((n) => n.type === 'url')?.value;
  const bc = cert.getExtension(x509.BasicConstraintsExtension);
  return { spiffeId: uri, notAfter: cert.notAfter, isCA: Boolean(bc?.ca) };
}

/**
 * The subject SPIRE gives a downstream CA (credtemplate.BuildDownstreamX509CATemplate): the signing CA's
 * subject with OU=DOWNSTREAM-<length of the signing chain>, in Go's pkix.Name attribute order.
 */
export function downstreamSubject(parentDer: Buffer, chainLength: number): string {
  const attrs = new x509.X509Certificate(parentDer).subjectName.toJSON();
  const get = (type: string) => attrs.flatMap((a) => a[type] ?? []);
  const parts = [
    ...get('C').map((v) => `C=${v}`),
    ...get('O').map((v) => `O=${v}`),
    `OU=DOWNSTREAM-${chainLength}`,
    ...get('CN').map((v) => `CN=${v}`),
    ...get('2.5.4.5').map((v) => `2.5.4.5=${v}`),
  ];
  return parts.join(', ');
}

/** The subject key identifier as SPIRE's x509util.SubjectKeyIDToString writes it (lowercase hex). */
export function subjectKeyId(der: Buffer): string {
  const ext = new x509.X509Certificate(der).getExtension(x509.SubjectKeyIdentifierExtension);
  return ext?.keyId.toLowerCase() ?? '';
}

/** The authority key identifier (lowercase hex), empty for a self-signed root without one. */
export function authorityKeyId(der: Buffer): string {
  const ext = new x509.X509Certificate(der).getExtension(x509.AuthorityKeyIdentifierExtension);
  return ext?.keyId?.toLowerCase() ?? '';
}

/** True when `leaf` was signed by `issuerDer`. */
export async function verifySignedBy(leaf: Buffer, issuerDer: Buffer): Promise<boolean> {
  const issuer = new x509.X509Certificate(issuerDer);
  return new x509.X509Certificate(leaf).verify({ publicKey: issuer.publicKey, signatureOnly: true });
}
