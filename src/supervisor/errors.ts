/** Where in a child's life the failure happened. */
export type ChildPhase = 'start' | 'ready' | 'stop';

export interface ChildErrorFields {
  child: string;
  phase: ChildPhase;
  exitCode?: number;
  signal?: string;
  lines?: readonly string[];
  cause?: unknown;
}

/**
 * The one error type of the supervisor. Fields are always present (undefined when they do not apply) so the
 * daemon classifies a failure by reading `exitCode` and `lines`, never by parsing the message. `lines` are the
 * child's last output lines, already masked; messages never quote them.
 */
export class ChildError extends Error {
  override readonly name = 'ChildError';
  readonly child: string;
  readonly phase: ChildPhase;
  readonly exitCode: number | undefined;
  readonly signal: string | undefined;
  readonly lines: readonly string[];

  constructor(message: string, fields: ChildErrorFields) {
    super(message, fields.cause === undefined ? undefined : { cause: fields.cause });
    this.child = fields.child;
    this.phase = fields.phase;
    this.exitCode = fields.exitCode;
    this.signal = fields.signal;
    this.lines = Object.freeze([...(fields.lines ?? [])]);
  }
}

/** Describes how a child ended, e.g. `exited with code 1` or `was killed by SIGKILL`. */
export function describeExit(exitCode: number | undefined, signal: string | undefined): string {
  if (signal !== undefined) return `was killed by ${signal}`;
  if (exitCode !== undefined) return `exited with code ${exitCode}`;
  return 'ended';
}
