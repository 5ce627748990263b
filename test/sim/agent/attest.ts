import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { callUnary, services } from '../../../src/spire/proto.js';
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

class AttestError extends Error {
  constructor(
    message: string,
    readonly code: grpc.status,
  ) {
    super(message);
  }
}

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

async function attestOnce(
  config: AgentConfig,
  roots: Buffer[] | undefined,
  token: string,
): Promise<Attested> {
  const creds = spiffeChannel({ roots, expectId: `spiffe://${config.trustDomain}/spire/server` });
  const target = `${config.serverAddress}:${config.serverPort}`;
  const agentClient = new services.agent(target, creds, SPIFFE_CHANNEL_OPTIONS);
  const bundleClient = new services.bundle(target, creds, SPIFFE_CHANNEL_OPTIONS);
  try {
    const keys = await generateKeyPair();
    const csr = await createCsr(keys);
    const result = await new Promise<{ svid: { cert_chain: Buffer[] }; reattestable: boolean }>(
      (resolve, reject) => {
        const stream = (
          agentClient as unknown as { AttestAgent(): grpc.ClientDuplexStream<object, any> }
        ).AttestAgent();
        stream.on(
          'data',
          (res: {
            result?: { svid: { cert_chain: Buffer[] }; reattestable: boolean };
            challenge?: Buffer;
          }) => {
            if (res.result) resolve(res.result);
            else reject(new AttestError('server issued unexpected challenge', grpc.status.INTERNAL));
            stream.end();
          },
        );
        stream.on('error', (err: grpc.ServiceError) =>
          reject(new AttestError(`failed to receive attestation response: ${goRpcError(err)}`, err.code)),
        );
        stream.write({
          params: { data: { type: 'join_token', payload: Buffer.from(token) }, params: { csr } },
        });
      },
    );
    if (!result.svid?.cert_chain?.length) {
      throw new AttestError(
        'failed to parse attestation response: attest response is missing SVID',
        grpc.status.INTERNAL,
      );
    }
    const bundle = await callUnary<{ x509_authorities: { asn1: Buffer }[] }>(bundleClient, 'GetBundle', {});
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

/**
 * Node attestation with the join token. With retry (1.13's default) failures are retried from 5 s, ×1.5 with
 * ±10 % jitter, for at most one minute, each logged as `Failed to retrieve attestation result`; PermissionDenied
 * ends at once. The last error is thrown for `Agent crashed`.
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
  const started = Date.now();
  let interval = 5_000;
  for (;;) {
    try {
      return await attestOnce(config, roots, token);
    } catch (err) {
      const code = err instanceof AttestError ? err.code : grpc.status.UNKNOWN;
      const wait = interval * (0.9 + Math.random() * 0.2);
      const giveUp =
        !config.retryBootstrap ||
        code === grpc.status.PERMISSION_DENIED ||
        Date.now() - started + scaled(wait) > scaled(60_000);
      if (giveUp) throw err;
      log.warn('Failed to retrieve attestation result', {
        error: (err as Error).message,
        retry_interval: goDuration(wait / 1000),
      });
      await new Promise((r) => setTimeout(r, scaled(wait)));
      interval *= 1.5;
    }
  }
}
