import { lookup } from 'node:dns/promises';
import { isIP, connect as netConnect, type Socket } from 'node:net';
import { type PeerCertificate, connect as tlsConnect } from 'node:tls';
import { atLeast } from './cli.js';
import { errnoText, goQuote } from './go-text.js';
import { scaled } from './grpc.js';
import { verifyChain } from './verify.js';
import { describe, toPem } from './x509.js';

// grpc-go's view of a failed connection, as SPIRE's agent and the spire UpstreamAuthority see it. Node's
// grpc-js reports the same failures in its own words, so before a call the simulator dials once itself and,
// on failure, builds the desc that grpc-go's Unavailable status would carry (transport/http2_client.go).

/** grpc-go's connect deadline (minConnectTimeout), within which dial and TLS handshake must finish. */
const CONNECT_TIMEOUT_MS = 20_000;

const connectionError = (desc: string) => `connection error: desc = ${goQuote(desc)}`;
const dialing = (network: string, address: string, reason: string) =>
  connectionError(`transport: Error while dialing: dial ${network} ${address}: ${reason}`);
const handshake = (reason: string) =>
  connectionError(`transport: authentication handshake failed: ${reason}`);

export interface ServerProbe {
  /** host:port as configured (server_address:server_port). */
  target: string;
  /**
   * The client's load balancing policy, which words the failure: SPIRE agents dial with round_robin
   * (pkg/agent/client/dial.go), the spire UpstreamAuthority with grpc-go's default pick_first.
   */
  lb: 'round_robin' | 'pick_first';
  /** Trust bundle roots; undefined for insecure bootstrap. */
  roots: Buffer[] | undefined;
  expectId: string;
  client?: { chain: Buffer[]; key: Buffer };
  /** Called on each handshake under insecure bootstrap (SPIRE warns every time). */
  onInsecure?: () => void;
}

function splitHostPort(target: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(target);
  return { host: m?.[1] ?? m?.[2] ?? target, port: Number(m?.[3] ?? 0) };
}

function peerChain(cert: PeerCertificate & { issuerCertificate?: PeerCertificate }): Buffer[] {
  const out: Buffer[] = [];
  let at: (PeerCertificate & { issuerCertificate?: PeerCertificate }) | undefined = cert;
  while (at?.raw && !out.some((c) => c.equals(at?.raw as Buffer))) {
    out.push(at.raw);
    at = at.issuerCertificate;
  }
  return out;
}

/** What go-spiffe's VerifyPeerCertificate (or SPIRE's insecure-bootstrap check) says of the server's chain. */
function checkServer(chain: Buffer[], probe: ServerProbe): string | undefined {
  const [leaf] = chain;
  if (!leaf) return 'server chain is unexpectedly empty';
  const id = describe(leaf).spiffeId;
  if (!probe.roots) {
    probe.onInsecure?.();
    const got = id ? `[${goQuote(id)}]` : '[]';
    return id === probe.expectId
      ? undefined
      : `expected server SPIFFE ID ${goQuote(probe.expectId)}; got ${got}`;
  }
  if (!id) return 'x509svid: could not get leaf SPIFFE ID: certificate contains no URI SAN';
  const err = verifyChain(chain, probe.roots);
  if (err) return `x509svid: could not verify leaf certificate: ${err}`;
  return id === probe.expectId ? undefined : `unexpected ID ${goQuote(id)}`;
}

/**
 * The picker's error for a failed resolution or connection. grpc-go ≥ 1.71 (SPIRE ≥ 1.12) builds round_robin
 * from endpointsharding, which has no child to pick from without addresses and passes a child pick_first's
 * connection error through; before, the base balancer prefixed "last connection/resolver error: ".
 */
function pickerError(lb: ServerProbe['lb'], failure: { resolve: true } | { connect: string }): string {
  const modern = atLeast('1.12.0');
  if ('resolve' in failure) {
    if (lb === 'pick_first') return 'name resolver error: produced zero addresses';
    return modern ? 'no children to pick from' : 'last resolver error: produced zero addresses';
  }
  return lb === 'round_robin' && !modern ? `last connection error: ${failure.connect}` : failure.connect;
}

/**
 * Dials the SPIRE server as grpc-go would and returns the desc of the Unavailable error a Go client would get,
 * or undefined when the connection and the SPIFFE authentication of the server succeed.
 */
export async function probeServer(probe: ServerProbe): Promise<string | undefined> {
  const failure = await dialServer(probe);
  return failure === undefined ? undefined : pickerError(probe.lb, failure);
}

async function dialServer(probe: ServerProbe): Promise<{ resolve: true } | { connect: string } | undefined> {
  const { host, port } = splitHostPort(probe.target);
  let ip = host;
  if (!isIP(host)) {
    try {
      ip = (await lookup(host)).address;
    } catch {
      // grpc-go's dns resolver drops NXDOMAIN and reports an empty address list (dns_resolver.go).
      return { resolve: true };
    }
  }
  const address = isIP(ip) === 6 ? `[${ip}]:${port}` : `${ip}:${port}`;
  const deadline = scaled(CONNECT_TIMEOUT_MS);
  const raw = await new Promise<Socket | string>((resolve) => {
    const sock = netConnect({ host: ip, port });
    const timer = setTimeout(() => {
      sock.destroy();
      resolve(dialing('tcp', address, 'i/o timeout'));
    }, deadline);
    sock.once('connect', () => {
      clearTimeout(timer);
      resolve(sock);
    });
    sock.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve(dialing('tcp', address, `connect: ${errnoText(err)}`));
    });
  });
  if (typeof raw === 'string') return { connect: raw };
  const desc = await new Promise<string | undefined>((resolve) => {
    const tls = tlsConnect({
      socket: raw,
      rejectUnauthorized: false,
      ALPNProtocols: ['h2'],
      servername: 'spire-server',
      ...(probe.client
        ? {
            cert: probe.client.chain.map((c) => toPem(c)).join(''),
            key: toPem(probe.client.key, 'PRIVATE KEY'),
          }
        : {}),
    });
    const finish = (result: string | undefined) => {
      clearTimeout(timer);
      tls.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => finish(handshake('context deadline exceeded')), deadline);
    tls.once('secureConnect', () => {
      const err = checkServer(peerChain(tls.getPeerCertificate(true)), probe);
      finish(err ? handshake(err) : undefined);
    });
    tls.once('error', (err: NodeJS.ErrnoException) => finish(handshake(err.code ? errnoText(err) : 'EOF')));
    tls.once('close', () => finish(handshake('EOF')));
  });
  return desc === undefined ? undefined : { connect: desc };
}

/** Dials a Workload API unix socket; the desc of grpc-go's Unavailable error, or undefined when it connects. */
export function probeUnix(path: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    const sock = netConnect({ path });
    sock.once('connect', () => {
      sock.destroy();
      resolve(undefined);
    });
    sock.once('error', (err: NodeJS.ErrnoException) =>
      resolve(dialing('unix', path, `connect: ${errnoText(err)}`)),
    );
  });
}
