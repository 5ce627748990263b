import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { callUnary, services } from '../../../src/spire/proto.js';
import { Backoff } from '../common/backoff.js';
import { atLeast } from '../common/cli.js';
import { probeServer } from '../common/dial.js';
import { goDuration, goRpcError, scaled } from '../common/grpc.js';
import type { Log } from '../common/log.js';
import { SPIFFE_CHANNEL_OPTIONS, spiffeChannel } from '../common/tls.js';
import { createCsr, fromPem, generateKeyPair } from '../common/x509.js';
import type { AgentConfig } from './config.js';

export interface Attested {
  svid: Buffer[];
  bundle: Buffer[];
  key: Buffer;
  reattestable: boolean;
}

/** An error with the gRPC code SPIRE's retry loop looks at (PermissionDenied is never retried). */
export class AgentError extends Error {
  constructor(
    message: string,
    readonly code: grpc.status,
  ) {
    super(message);
  }
}

// x509util.IsUnknownAuthorityError matches the text, since the x509 error is flattened into an rpc error.
export const isUnknownAuthority = (err: Error) =>
  err.message.includes('x509: certificate signed by unknown authority');

/** The trust the agent bootstraps with: the bundle file's roots, or none under insecure_bootstrap. */
export function bootstrapRoots(config: AgentConfig, log: Log): Buffer[] | undefined {
  if (config.insecureBootstrap) {
    log.warn('Trust bundle will be ignored; performing insecure bootstrap', { subsystem_name: 'attestor' });
    return undefined;
  }
  const path = config.trustBundlePath as string;
  let roots: Buffer[];
  try {
    roots = fromPem(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`could not parse trust bundle: ${(err as Error).message}`);
  }
  if (roots.length === 0) throw new Error(`could not parse trust bundle: no certificates found in ${path}`);
  return roots;
}

function attestStream(
  client: grpc.Client,
  token: string,
  csr: Buffer,
): Promise<{ svid: { cert_chain: Buffer[] }; reattestable: boolean }> {
  return new Promise((resolve, reject) => {
    const stream = (
      client as unknown as { AttestAgent(): grpc.ClientDuplexStream<object, any> }
    ).AttestAgent();
    stream.on('data', (res: { result?: { svid: { cert_chain: Buffer[] }; reattestable: boolean } }) => {
      if (res.result) resolve(res.result);
      else reject(new AgentError('join_token: server issued unexpected challenge', grpc.status.INTERNAL));
      stream.end();
    });
    stream.on('error', (err: grpc.ServiceError) =>
      reject(new AgentError(`failed to receive attestation response: ${goRpcError(err)}`, err.code)),
    );
    stream.write({ params: { data: { type: 'join_token', payload: Buffer.from(token) }, params: { csr } } });
  });
}

async function attestOnce(
  config: AgentConfig,
  roots: Buffer[] | undefined,
  token: string,
  log: Log,
): Promise<Attested> {
  const tls = { roots, expectId: `spiffe://${config.trustDomain}/spire/server` };
  const target = `${config.serverAddress}:${config.serverPort}`;
  // grpc.NewClient connects lazily, so a dial or TLS failure surfaces when the attestation stream opens.
  const unreachable = await probeServer({
    target,
    lb: 'round_robin',
    ...tls,
    onInsecure: () => log.warn('Insecure bootstrap enabled; skipping server certificate verification'),
  });
  if (unreachable) {
    throw new AgentError(
      `could not open attestation stream to SPIRE server: rpc error: code = Unavailable desc = ${unreachable}`,
      grpc.status.UNAVAILABLE,
    );
  }
  const creds = spiffeChannel(tls);
  const agentClient = new services.agent(target, creds, SPIFFE_CHANNEL_OPTIONS);
  const bundleClient = new services.bundle(target, creds, SPIFFE_CHANNEL_OPTIONS);
  try {
    const keys = await generateKeyPair();
    const result = await attestStream(agentClient, token, await createCsr(keys));
    if (!result.svid?.cert_chain?.length) {
      throw new AgentError(
        'failed to parse attestation response: attest response is missing SVID',
        grpc.status.INTERNAL,
      );
    }
    let bundle: { x509_authorities: { asn1: Buffer }[] };
    try {
      bundle = await callUnary(bundleClient, 'GetBundle', {});
    } catch (err) {
      // node.go wraps twice, the inner format without a colon.
      const e = err as grpc.ServiceError;
      throw new AgentError(
        `failed to get updated bundle: failed to get updated bundle ${goRpcError(e)}`,
        e.code,
      );
    }
    return {
      svid: result.svid.cert_chain,
      bundle: bundle.x509_authorities.map((a) => a.asn1),
      key: keys.pkcs8,
      reattestable: result.reattestable,
    };
  } finally {
    agentClient.close();
    bundleClient.close();
  }
}

/** The bootstrap backoff of agent.go: 5 s, ×1.5, ±10 %, for at most one minute. */
export const bootstrapBackoff = () => new Backoff(5_000, { maxElapsedMs: 60_000 });

/**
 * Node attestation with the join token, as agent.go's bootstrap loop runs it. With retry (always from 1.14, the
 * 1.13 default) each failure is logged as `Failed to retrieve attestation result` and retried on the bootstrap
 * backoff; PermissionDenied ends at once; an unknown-authority error is first noted as a bundle mismatch. The
 * last error is thrown for `Agent crashed`.
 */
export async function attestWithRetry(
  config: AgentConfig,
  roots: Buffer[] | undefined,
  log: Log,
): Promise<Attested> {
  const token = config.joinToken;
  if (!token)
    throw new Error(
      'failed to get attestation data: join token is required when using the join_token node attestor',
    );
  const attestorLog = log.with({ subsystem_name: 'attestor' });
  const backoff = bootstrapBackoff();
  for (;;) {
    try {
      return await attestOnce(config, roots, token, attestorLog);
    } catch (err) {
      if (!config.retryBootstrap) throw err;
      const code = err instanceof AgentError ? err.code : grpc.status.UNKNOWN;
      // 1.13 added the note, for the trust bundle sources (trust_bundle_path counts as bootstrap).
      if (atLeast('1.13.0') && isUnknownAuthority(err as Error)) log.info(trustMismatchMessage());
      if (code === grpc.status.PERMISSION_DENIED) throw err;
      const wait = backoff.next();
      if (wait === undefined) throw err;
      log.warn('Failed to retrieve attestation result', {
        error: (err as Error).message,
        retry_interval: goDuration(wait / 1000),
      });
      await new Promise((r) => setTimeout(r, scaled(wait)));
    }
  }
}

/** The bundle-mismatch note of the bootstrap loop, in each release's spelling. */
export function trustMismatchMessage(): string {
  if (atLeast('1.15.2')) return "Trust Bundle and Server don't agree, bootstrapping again";
  if (atLeast('1.14.0')) return 'Trust Bundle and Server dont agree.... bootstrapping again';
  return 'Trust Bandle and Server dont agree.... bootstrapping again';
}
