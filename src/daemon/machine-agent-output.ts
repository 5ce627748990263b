// Recognises the SPIRE server's join-token refusals in an agent's output (spire
// `pkg/server/api/agent/v1/service.go`). The agent retries attestation every 5 s for about a minute before it
// exits; spotting the message on its first warning lets the machine stop it at once.
import type { TokenRefusal } from './machine-types.js';

// The server deletes a token before checking its expiry, so an expired token is reported once as expired and
// as "does not exist" on every retry after that.
const REFUSALS: ReadonlyArray<[string, TokenRefusal]> = [
  ['join token does not exist or has already been used', 'token-rejected'],
  ['join token expired', 'token-expired'],
];

/** The refusal one line of an agent's log (text or JSON format) reports, if any. */
export function tokenRefusalIn(line: string): TokenRefusal | null {
  for (const [text, refusal] of REFUSALS) {
    if (line.includes(text)) return refusal;
  }
  return null;
}
