import * as grpc from '@grpc/grpc-js';

/** A gRPC error with SPIRE's code and message, as `status.Error(code, msg)` builds it. */
export function rpcError(code: grpc.status, details: string): grpc.ServiceError {
  return Object.assign(new Error(`${code} ${grpc.status[code]}: ${details}`), {
    code,
    details,
    metadata: new grpc.Metadata(),
  });
}

/** The `types.Status` message of a batch result. */
export const okStatus = { code: 0, message: 'OK' };
export const statusOf = (code: grpc.status, message: string) => ({ code, message });

/** Binds a gRPC server to one address (unix:… or host:port) and resolves with the bound port. */
export function bind(server: grpc.Server, address: string, creds: grpc.ServerCredentials): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(address, creds, (err, port) => (err ? reject(err) : resolve(port)));
  });
}

/** Go's duration text for a number of seconds, as SPIRE logs durations. */
export function goDuration(seconds: number): string {
  return `${Number(seconds.toFixed(3))}s`;
}

/** Scales the simulator's long real-world waits (attestation retries, sync) for tests: SIM_TIME_SCALE=0.05. */
export function scaled(ms: number): number {
  const scale = Number(process.env.SIM_TIME_SCALE ?? '1');
  return Math.max(1, Math.round(ms * (Number.isFinite(scale) && scale > 0 ? scale : 1)));
}

/** Formats a gRPC error the way Go's status package prints it: `rpc error: code = X desc = …`. */
export function goRpcError(err: Partial<grpc.ServiceError>): string {
  const name = (grpc.status[err.code ?? grpc.status.UNKNOWN] ?? 'UNKNOWN')
    .toLowerCase()
    .replace(/(^|_)([a-z])/g, (_m, _u, c: string) => c.toUpperCase());
  const code = name === 'Ok' ? 'OK' : name;
  return `rpc error: code = ${code} desc = ${err.details ?? err.message ?? ''}`;
}
