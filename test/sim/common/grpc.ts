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

export { goDuration } from './go-text.js';

/** The factor SIM_TIME_SCALE applies to SPIRE's real-world waits (1 = SPIRE's own timing). */
export function timeScale(): number {
  const scale = Number(process.env.SIM_TIME_SCALE ?? '1');
  return Number.isFinite(scale) && scale > 0 ? scale : 1;
}

/** Scales the simulator's long real-world waits (attestation retries, sync) for tests: SIM_TIME_SCALE=0.05. */
export function scaled(ms: number): number {
  return Math.max(1, Math.round(ms * timeScale()));
}

// grpc-go's codes.Code.String(); note Go spells CANCELLED "Canceled".
const GO_CODES = [
  'OK',
  'Canceled',
  'Unknown',
  'InvalidArgument',
  'DeadlineExceeded',
  'NotFound',
  'AlreadyExists',
  'PermissionDenied',
  'ResourceExhausted',
  'FailedPrecondition',
  'Aborted',
  'OutOfRange',
  'Unimplemented',
  'Internal',
  'Unavailable',
  'DataLoss',
  'Unauthenticated',
];

/** Go's name of a gRPC code, as `status.Error(...).Error()` prints it. */
export const goCode = (code: grpc.status | undefined) => GO_CODES[code ?? grpc.status.UNKNOWN] ?? 'Unknown';

/** Formats a gRPC error the way Go's status package prints it: `rpc error: code = X desc = …`. */
export function goRpcError(err: Partial<grpc.ServiceError>): string {
  return `rpc error: code = ${goCode(err.code)} desc = ${err.details ?? err.message ?? ''}`;
}
