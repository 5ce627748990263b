import { hasControlChar } from '../common/control-chars.js';
import { MINTING_SOURCES, TokenError, type TokenErrorSource, type TokenSourceName } from './errors.js';

// SPIRE turns the token into the agent ID spiffe://<td>/spire/agent/join_token/<token> with
// spiffeid.FromSegments, so a token must be a valid SPIFFE path segment; it also lands in HCL and files.
const SEGMENT = /^[A-Za-z0-9._-]+$/;
const MAX_LENGTH = 256;

/** Why a token value is unusable, or undefined when it is fine. Never includes the value itself. */
export function tokenProblem(token: string): string | undefined {
  if (token.length === 0) return 'is empty';
  if (token.length > MAX_LENGTH) return `is ${token.length} characters long (expected at most ${MAX_LENGTH})`;
  if (/\s/.test(token)) return 'contains whitespace';
  if (hasControlChar(token)) return 'contains a control character';
  if (token === '.' || token === '..') return "is '.' or '..'";
  if (!SEGMENT.test(token)) return "contains characters other than letters, digits, '.', '-' and '_'";
  return undefined;
}

/** Trims surrounding whitespace (files often end in a newline) and throws when the token is unusable. */
export function checkToken(raw: string, source: TokenErrorSource, where: string): string {
  const token = raw.trim();
  const problem = tokenProblem(token);
  if (problem) {
    // A server that minted an unusable token may do better next time; a bad file needs a person.
    const minted = MINTING_SOURCES.has(source as TokenSourceName);
    throw new TokenError(`join token from ${where} ${problem}`, {
      code: 'invalid-token',
      source,
      retry: minted ? 'backoff' : 'slow',
      mayHaveMinted: minted,
    });
  }
  return token;
}
