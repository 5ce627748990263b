// Recognises the SPIRE server's join-token refusals in the upstream agent's output (spire
// `pkg/server/api/agent/v1/service.go`). The agent retries attestation every 5 s for about a minute before it
// exits; spotting the message on its first warning lets the daemon stop it at once.
import type { ExitReason } from './machine-types.js';

// The server deletes a token before checking its expiry, so an expired token is reported once as expired and
// as "does not exist" on every retry after that.
const REFUSALS: ReadonlyArray<[string, ExitReason]> = [
  ['join token does not exist or has already been used', 'token-rejected'],
  ['join token expired', 'token-expired'],
];

/** Classifies one line of the upstream agent's log (text or JSON format). */
export function classifyAgentLine(line: string): ExitReason {
  for (const [text, reason] of REFUSALS) {
    if (line.includes(text)) return reason;
  }
  return 'other';
}

/** Classifies an agent's exit by the first refusal among its log lines (in order); 'other' if none. */
export function classifyAgentExit(lines: Iterable<string>): ExitReason {
  for (const line of lines) {
    const reason = classifyAgentLine(line);
    if (reason !== 'other') return reason;
  }
  return 'other';
}
