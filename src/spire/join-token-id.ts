// A join-token agent's SPIFFE ID ends in the token itself (`…/spire/agent/join_token/<token>`, DESIGN §1), and
// SPIRE logs and serves that ID; wherever the daemon shows one, the token becomes its fingerprint, so logs,
// /status and the audit trail name the same token the same way without ever holding it.
import { fingerprint } from '../token/fingerprint.js';

/** The agent ID SPIRE gives the agent attested with `token` (a secret: mask it before showing it anywhere). */
export const joinTokenAgentId = (trustDomain: string, token: string): string =>
  `${joinTokenAgentPrefix(trustDomain)}${token}`;

/** What every join-token agent ID of `trustDomain` starts with. */
export const joinTokenAgentPrefix = (trustDomain: string): string =>
  `spiffe://${trustDomain}/spire/agent/join_token/`;

const JOIN_TOKEN_SEGMENT = /(\/spire\/agent\/join_token\/)([^/\s"'<>\\?#,;:)\]}]+)/g;
const MASKED = /^[0-9a-f]{12}…$/;

/** Replaces the token in every `…/spire/agent/join_token/<token>` with its fingerprint (`<12 hex>…`). */
export function maskJoinTokenIds(text: string): string {
  return text.replace(JOIN_TOKEN_SEGMENT, (whole, prefix: string, token: string) =>
    MASKED.test(token) ? whole : `${prefix}${fingerprint(token)}…`,
  );
}

const JOIN_TOKEN_ID = /\/spire\/agent\/join_token\/([^/]+)$/;

/** For a join-token agent ID, the fingerprint of the token it was attested with; null for any other ID. */
export function attestedTokenFingerprint(spiffeId: string | undefined): string | null {
  const token = spiffeId === undefined ? undefined : JOIN_TOKEN_ID.exec(spiffeId)?.[1];
  return token === undefined || MASKED.test(token) ? null : fingerprint(token);
}
