import { X509Certificate } from 'node:crypto';

// Go's crypto/x509 Certificate.Verify, reduced to what SPIFFE chains need, with Go's error texts: an expired
// leaf is reported as such; otherwise a chain to a root is searched through name-matching candidates, and the
// first candidate that fails (signature or validity) becomes the "possibly because of" hint.

const rfc3339 = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

function validityError(cert: X509Certificate, now: Date): string | undefined {
  const notBefore = new Date(cert.validFrom);
  const notAfter = new Date(cert.validTo);
  if (now < notBefore)
    return `x509: certificate has expired or is not yet valid: current time ${rfc3339(now)} is before ${rfc3339(notBefore)}`;
  if (now > notAfter)
    return `x509: certificate has expired or is not yet valid: current time ${rfc3339(now)} is after ${rfc3339(notAfter)}`;
  return undefined;
}

function signatureError(child: X509Certificate, parent: X509Certificate): string | undefined {
  if (!parent.ca) return 'x509: invalid signature: parent certificate cannot sign this kind of certificate';
  return child.verify(parent.publicKey) ? undefined : 'x509: ECDSA verification failure';
}

// UnknownAuthorityError names the hint certificate by CN, else its first O, else its serial.
function certName(cert: X509Certificate): string {
  const field = (key: string) => new RegExp(`^${key}=(.*)$`, 'm').exec(cert.subject)?.[1];
  return field('CN') ?? field('O') ?? `serial:${BigInt(`0x${cert.serialNumber}`).toString(10)}`;
}

/** Verifies `chain` (leaf first, then intermediates) up to one of `roots`; undefined when valid, else Go's text. */
export function verifyChain(chain: Buffer[], roots: Buffer[], now = new Date()): string | undefined {
  const [leafDer, ...rest] = chain;
  if (!leafDer) return 'empty certificates chain';
  const leaf = new X509Certificate(leafDer);
  const expired = validityError(leaf, now);
  if (expired) return expired;
  const rootCerts = roots.map((r) => new X509Certificate(r));
  const intermediates = rest.map((c) => new X509Certificate(c));
  let hint: { err: string; cert: X509Certificate } | undefined;

  const build = (cert: X509Certificate, seen: X509Certificate[]): boolean => {
    if (seen.length > 8) return false;
    for (const [pool, isRoot] of [
      [rootCerts, true],
      [intermediates, false],
    ] as const) {
      for (const candidate of pool) {
        if (candidate.subject !== cert.issuer || seen.some((s) => s.raw.equals(candidate.raw))) continue;
        const err = signatureError(cert, candidate) ?? validityError(candidate, now);
        if (err) {
          hint ??= { err, cert: candidate };
          continue;
        }
        if (isRoot || build(candidate, [...seen, candidate])) return true;
      }
    }
    return false;
  };
  if (build(leaf, [leaf])) return undefined;
  const base = 'x509: certificate signed by unknown authority';
  return hint
    ? `${base} (possibly because of ${JSON.stringify(hint.err)} while trying to verify candidate authority certificate ${JSON.stringify(certName(hint.cert))})`
    : base;
}
