// The one error type of our SPIRE API clients: which method failed, with SPIRE's gRPC status code and its words.
// gRPC's status codes by number (grpc/grpc doc/statuscodes.md); spelled out so that importing the error type
// does not load the gRPC library into commands that never make a call.
const CODE_NAMES = [
  'OK',
  'CANCELLED',
  'UNKNOWN',
  'INVALID_ARGUMENT',
  'DEADLINE_EXCEEDED',
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'PERMISSION_DENIED',
  'RESOURCE_EXHAUSTED',
  'FAILED_PRECONDITION',
  'ABORTED',
  'OUT_OF_RANGE',
  'UNIMPLEMENTED',
  'INTERNAL',
  'UNAVAILABLE',
  'DATA_LOSS',
  'UNAUTHENTICATED',
] as const;
const RETRYABLE = new Set(['UNAVAILABLE', 'DEADLINE_EXCEEDED', 'RESOURCE_EXHAUSTED', 'ABORTED']);

export class SpireApiError extends Error {
  override readonly name = 'SpireApiError';
  /** e.g. `Entry.BatchCreateEntry`. */
  readonly method: string;
  /** The gRPC status code (numeric) and its name, e.g. 14 / `UNAVAILABLE`. */
  readonly code: number;
  readonly codeName: string;
  /** SPIRE's message, e.g. `similar entry already exists`. */
  readonly details: string;
  /** Where the server was reached, e.g. `unix:/run/spire/nested/server/api.sock`. */
  readonly target: string;

  constructor(method: string, target: string, code: number, details: string, cause?: unknown) {
    const codeName = CODE_NAMES[code] ?? `code ${code}`;
    super(
      `SPIRE ${method} at ${target} failed (${codeName}: ${details})`,
      cause === undefined ? undefined : { cause },
    );
    this.method = method;
    this.target = target;
    this.code = code;
    this.codeName = codeName;
    this.details = details;
  }

  /** Worth trying again soon: the server is not there yet or was busy. */
  get retryable(): boolean {
    return RETRYABLE.has(this.codeName);
  }
}
