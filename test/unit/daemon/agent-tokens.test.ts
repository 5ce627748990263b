// One agent's token keeper: a token minted but not handed out still shows in the audit trail and the burned list,
// and nothing it reports names the token.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AgentTokens } from '../../../src/daemon/agent-tokens.js';
import { NO_OBSERVER } from '../../../src/daemon/observe.js';
import { loadBurnedTokens } from '../../../src/token/burned.js';
import { fingerprint } from '../../../src/token/fingerprint.js';
import { createTokenStore } from '../../../src/token/store.js';
import { captureLogger } from '../../fixtures/capture-logger.js';

const roots: string[] = [];
afterAll(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

describe('AgentTokens', () => {
  it('audits and burns a minted token whose downstream entry failed, and names no token in the error', async () => {
    const root = mkdtempSync(join(tmpdir(), 'pb-agent-tokens-'));
    roots.push(root);
    const token = 'minted-token-7f3a';
    const agentId = `spiffe://example.org/spire/agent/join_token/${token}`;
    const burned = await loadBurnedTokens(join(root, 'burned.json'), Date.now());
    const released: string[] = [];
    const { logger } = captureLogger('debug');
    const tokens = new AgentTokens({
      agent: 'upstream-agent',
      sources: [
        {
          name: 'spire-server',
          acquire: async () => ({
            token,
            source: 'spire-server',
            fingerprint: fingerprint(token),
            expiresAt: new Date(Date.now() + 600_000),
            parentId: agentId,
          }),
        },
      ],
      store: createTokenStore({ path: join(root, 'token') }),
      burned,
      logger,
      observer: {
        ...NO_OBSERVER,
        tokenReleased: (t, how, reason) => void released.push(`${how} ${t.fingerprint} ${reason}`),
      },
      now: Date.now,
      afterMint: async () => {
        throw new Error(`rpc error: code = InvalidArgument desc = parent ${agentId} is not valid`);
      },
    });
    const event = await tokens.acquire(new AbortController().signal);
    expect(event).toMatchObject({ type: 'token-failed', mints: 1 });
    const message = event.type === 'token-failed' ? event.failure.message : '';
    expect(message).toContain(`/spire/agent/join_token/${fingerprint(token)}…`);
    expect(message).not.toContain(token);
    expect(released).toEqual([`discarded ${fingerprint(token)} its downstream entry could not be created`]);
    expect(burned.all.has(fingerprint(token))).toBe(true);
    expect(tokens.value).toBeUndefined();
  });
});
