// The one error type of our SPIRE API clients: which method failed, with SPIRE's gRPC status code and its words.
import { status } from '@grpc/grpc-js';

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
    const codeName = status[code] ?? `code ${code}`;
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
    return [status.UNAVAILABLE, status.DEADLINE_EXCEEDED, status.RESOURCE_EXHAUSTED, status.ABORTED].includes(
      this.code,
    );
  }
}
