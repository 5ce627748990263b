// Property: whatever the admin API answers with a 201, reading it throws only TokenError, and never quotes a
// token back in its message.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseMinted } from '../../../src/token/admin-reply.js';
import { TokenError } from '../../../src/token/errors.js';

const fields = fc.record(
  {
    token: fc.oneof(fc.string(), fc.constantFrom('tok-1234abcd', ''), fc.integer(), fc.constant(null)),
    expires_at: fc.oneof(fc.constantFrom('2030-01-01T00:00:00Z', 'soon', ''), fc.integer(), fc.string()),
    parent_spiffe_id: fc.oneof(
      fc.constantFrom('spiffe://td/spire/agent/join_token/tok-1234abcd'),
      fc.string(),
    ),
    spiffe_id: fc.string(),
    downstream_entry_id: fc.oneof(fc.string(), fc.integer()),
  },
  { requiredKeys: [] },
);
const body = fc.oneof(
  fc.string(),
  fields.map((f) => JSON.stringify(f)),
  fc.json(),
);

describe('reading a 201 from the admin API', () => {
  it('throws only TokenError, and no message holds the token', () => {
    fc.assert(
      fc.property(body, (text) => {
        try {
          const minted = parseMinted({ status: 201, retryAfterMs: undefined, body: text, date: undefined });
          expect(minted.token.length).toBeGreaterThan(0);
        } catch (err) {
          expect(err).toBeInstanceOf(TokenError);
          const token = (() => {
            try {
              return (JSON.parse(text) as { token?: unknown }).token;
            } catch {
              return undefined;
            }
          })();
          if (typeof token === 'string' && token.length >= 4)
            expect((err as Error).message).not.toContain(token);
        }
      }),
      { numRuns: 500 },
    );
  });
});
