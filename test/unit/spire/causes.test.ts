import { describe, expect, it } from 'vitest';
import { type CauseContext, causeOf } from '../../../src/spire/causes.js';
import { parseLogrusLine } from '../../../src/supervisor/logrus.js';

const CTX: CauseContext = {
  upstreamServer: 'spire.example.org:8081',
  nestedServer: '127.0.0.1:18081',
  trustBundlePath: '/etc/serviceradar/spire/upstream-bundle.pem',
  downstreamId: 'spiffe://example.org/ns/edge/poller-nested-spire',
  upstreamAgentId: 'spiffe://example.org/spire/agent/join_token/0123456789ab…',
  stateDir: '/var/lib/serviceradar/poller-bootstrap',
};

// Lines as SPIRE prints them (logrus text format), for the faults an operator meets.
const line = (level: string, msg: string, error?: string) =>
  parseLogrusLine(
    `time="2026-01-01T00:00:00Z" level=${level} msg="${msg}"${error ? ` error="${error.replace(/"/g, '\\"')}"` : ''}`,
  );
const dial = (inner: string) =>
  `create attestation client: failed to dial dns:///spire.example.org:8081: context deadline exceeded: connection error: desc = "${inner}"`;

describe('causeOf', () => {
  it.each([
    [
      'upstream-agent',
      line(
        'warning',
        'Failed to retrieve attestation result',
        'rpc error: code = InvalidArgument desc = failed to attest: join token does not exist or has already been used',
      ),
      'token-rejected',
    ],
    [
      'downstream-agent',
      line('error', 'Agent crashed', 'rpc error: code = InvalidArgument desc = join token expired'),
      'token-expired',
    ],
    [
      'upstream-agent',
      line(
        'error',
        'Agent crashed',
        dial(
          'transport: authentication handshake failed: x509svid: could not verify leaf certificate: x509: certificate signed by unknown authority',
        ),
      ),
      'trust-bundle-mismatch',
    ],
    [
      'upstream-agent',
      line(
        'warning',
        'Failed to retrieve attestation result',
        dial('transport: Error while dialing: dial tcp 10.0.0.1:8081: connect: connection refused'),
      ),
      'server-unreachable',
    ],
    [
      'upstream-agent',
      line(
        'warning',
        'Failed to retrieve attestation result',
        dial('transport: Error while dialing: dial tcp: lookup spire.example.org: no such host'),
      ),
      'server-unreachable',
    ],
    [
      'nested-server',
      line(
        'error',
        'Failed to watch the Workload API: rpc error: code = PermissionDenied desc = no identity issued',
      ),
      'no-identity-issued',
    ],
    [
      'nested-server',
      line(
        'error',
        'Fatal run error',
        'unable to request a new Downstream X509CA: rpc error: code = PermissionDenied desc = caller is not a downstream workload',
      ),
      'entry-not-downstream',
    ],
    [
      'nested-server',
      line('error', 'Fatal run error', 'listen tcp 127.0.0.1:18081: bind: address already in use'),
      'port-in-use',
    ],
    [
      'nested-server',
      line('error', 'Fatal run error', 'datastore-sql: unable to open database file: permission denied'),
      'data-files',
    ],
  ] as const)('%s: %s → %s', (child, parsed, code) => {
    expect(causeOf(child, parsed, CTX)?.code).toBe(code);
  });

  it('names the missing entry and its parent, by fingerprint only', () => {
    const cause = causeOf(
      'nested-server',
      line(
        'error',
        'Failed to watch the Workload API: rpc error: code = PermissionDenied desc = no identity issued',
      ),
      CTX,
    );
    expect(cause).toMatchObject({
      retryable: false,
      message:
        'the nested server gets no SVID from the upstream agent: the downstream entry for spiffe://example.org/ns/edge/poller-nested-spire parented to spiffe://example.org/spire/agent/join_token/0123456789ab… is missing on the cluster server',
    });
  });

  it('points at the trust bundle file for a bundle from another server', () => {
    const cause = causeOf(
      'upstream-agent',
      line(
        'error',
        'Agent crashed',
        dial(
          'transport: authentication handshake failed: x509svid: could not verify leaf certificate: x509: certificate signed by unknown authority',
        ),
      ),
      CTX,
    );
    expect(cause?.hint).toContain('/etc/serviceradar/spire/upstream-bundle.pem');
    expect(cause?.message).toContain(
      'the SPIRE server at spire.example.org:8081 presented a certificate its trust bundle does not accept',
    );
  });

  it('ignores info lines and lines of children that cannot print them', () => {
    expect(causeOf('upstream-agent', line('info', 'SVID loaded', 'no identity issued'), CTX)).toBeNull();
    expect(causeOf('nested-server', line('error', 'Agent crashed', 'join token expired'), CTX)).toBeNull();
    expect(causeOf('upstream-agent', line('error', 'something new went wrong'), CTX)).toBeNull();
  });
});
