import { describe, expect, it } from 'vitest';
import { tokenRefusalIn } from '../../../src/daemon/machine-agent-output.js';

// Shaped like spire-agent's warnings while it retries attestation (text and JSON log formats).
const REJECTED_TEXT =
  'time="2025-06-01T12:00:05Z" level=warning msg="Failed to retrieve attestation result" ' +
  'error="failed to get SVID: rpc error: code = InvalidArgument desc = failed to attest: ' +
  'join token does not exist or has already been used" retry_interval=5s';
const EXPIRED_JSON = JSON.stringify({
  error: 'failed to get SVID: rpc error: code = InvalidArgument desc = join token expired',
  level: 'warning',
  msg: 'Failed to retrieve attestation result',
});

describe('tokenRefusalIn', () => {
  it.each([
    [REJECTED_TEXT, 'token-rejected'],
    [EXPIRED_JSON, 'token-expired'],
    ['level=error msg="Agent crashed" error="join token was not provided"', null],
    ['level=info msg="SVID loaded" spiffe_id="spiffe://example.org/spire/agent/join_token/x"', null],
    ['', null],
  ])('%s → %s', (line, refusal) => {
    expect(tokenRefusalIn(line)).toBe(refusal);
  });
});
