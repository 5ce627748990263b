// Readiness probes for a supervised child. The preferred one asks the child's own unix socket (grpc.health.v1
// Health/Check, as `spire-agent healthcheck` and `spire-server healthcheck` do): a port can be held by someone
// else's process, the child's freshly bound socket cannot. SPIRE serves it only once the agent has attested or
// the server's CA is ready.
import * as grpc from '@grpc/grpc-js';
import { callUnary, services } from '../spire/proto.js';

/** Resolves true when the child is ready; false or a rejection means "not yet". */
export type ReadinessProbe = (signal: AbortSignal) => Promise<boolean>;

export interface HttpReadiness {
  url: string;
  /** Per-request limit, so a listener that accepts but never answers does not stall the poll. Default 2 s. */
  timeoutMs?: number;
}

export interface SocketReadiness {
  socketPath: string;
  /** Per-call limit. Default 1 s. */
  timeoutMs?: number;
}

export type Readiness = ReadinessProbe | HttpReadiness | SocketReadiness;

// A fresh channel per probe: a channel that failed to connect backs off for seconds before it tries again.
function socketProbe({ socketPath, timeoutMs = 1_000 }: SocketReadiness): ReadinessProbe {
  return async (signal) => {
    const client = new services.health(`unix:${socketPath}`, grpc.credentials.createInsecure());
    try {
      const deadline = new Date(Date.now() + timeoutMs);
      const res = await callUnary<{ status: string }>(client, 'Check', {}, { deadline, signal });
      return res.status === 'SERVING';
    } finally {
      client.close();
    }
  };
}

/** Turns a readiness option into a probe; an HTTP probe is ready on any 2xx answer. */
export function toProbe(readiness: Readiness): ReadinessProbe {
  if (typeof readiness === 'function') return readiness;
  if ('socketPath' in readiness) return socketProbe(readiness);
  const { url, timeoutMs = 2_000 } = readiness;
  return async (signal) => {
    const response = await fetch(url, { signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]) });
    // Drain the body so the keep-alive connection is reusable for the next poll.
    await response.arrayBuffer();
    return response.ok;
  };
}
