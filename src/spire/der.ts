// X.509 material as SPIRE's APIs carry it (concatenated DER) and as TLS stacks want it (PEM).

/** PEM text of one DER object. */
export function toPem(der: Buffer, label = 'CERTIFICATE'): string {
  return `-----BEGIN ${label}-----\n${der.toString('base64').replace(/.{1,64}/g, '$&\n')}-----END ${label}-----\n`;
}

/** The DER of every PEM block in `text` labelled `label` (any label when omitted), in order. */
export function fromPem(text: string, label?: string): Buffer[] {
  return [...text.matchAll(/-----BEGIN ([A-Z ]+)-----\r?\n([A-Za-z0-9+/=\r\n]+)-----END \1-----/g)]
    .filter((m) => label === undefined || m[1] === label)
    .map((m) => Buffer.from((m[2] as string).replace(/\s+/g, ''), 'base64'));
}

/**
 * Splits concatenated DER certificates (the Workload API's `x509_svid` and `bundle`) at their ASN.1 SEQUENCE
 * boundaries; throws on anything else.
 */
export function splitDer(buf: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let at = 0;
  while (at < buf.length) {
    if (buf[at] !== 0x30 || at + 2 > buf.length) throw new Error('not a DER certificate sequence');
    const first = buf[at + 1] as number;
    let length = first;
    let header = 2;
    if (first & 0x80) {
      const bytes = first & 0x7f;
      if (bytes === 0 || bytes > 4 || at + 2 + bytes > buf.length) throw new Error('bad DER length');
      length = 0;
      for (let i = 0; i < bytes; i++) length = length * 256 + (buf[at + 2 + i] as number);
      header = 2 + bytes;
    }
    const end = at + header + length;
    if (end > buf.length) throw new Error('truncated DER certificate');
    out.push(buf.subarray(at, end));
    at = end;
  }
  return out;
}
