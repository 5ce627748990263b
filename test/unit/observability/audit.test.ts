import { chmod, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { auditRecord, createAuditLog } from '../../../src/observability/audit.js';
import { fingerprint } from '../../../src/token/fingerprint.js';
import { captureLogger } from '../../fixtures/capture-logger.js';

const TOKEN = '3f1c9a7e-5b2d-4c8e-9f10-aa55bb66cc77';
const FP = fingerprint(TOKEN);
const AT = new Date('2030-01-01T00:00:00Z');

let dir: string;
let path: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'audit-'));
  path = join(dir, 'audit.jsonl');
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const lines = async (file: string) =>
  (await readFile(file, 'utf8'))
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l));
const mode = async (file: string) => (await stat(file)).mode & 0o777;

describe('auditRecord', () => {
  it('describes an acquired token by fingerprint, expiry and masked parent ID', () => {
    expect(
      auditRecord({
        kind: 'token-acquired',
        source: 'admin-api',
        fingerprint: FP,
        expiresAt: Date.parse('2030-01-01T00:15:00Z'),
        trustDomain: 'example.org',
        at: AT,
      }),
    ).toEqual({
      at: '2030-01-01T00:00:00.000Z',
      event: 'token-acquired',
      source: 'admin-api',
      fingerprint: FP,
      expires_at: '2030-01-01T00:15:00.000Z',
      parent_id: `spiffe://example.org/spire/agent/join_token/${FP}…`,
      reason: null,
    });
  });

  it('has the same fields, null where they do not apply, for a rejected token', () => {
    expect(
      auditRecord({
        kind: 'token-rejected',
        fingerprint: FP,
        reason: 'join token does not exist or has already been used',
        at: AT,
      }),
    ).toEqual({
      at: '2030-01-01T00:00:00.000Z',
      event: 'token-rejected',
      source: null,
      fingerprint: FP,
      expires_at: null,
      parent_id: null,
      reason: 'join token does not exist or has already been used',
    });
  });

  it('digests a token passed where a fingerprint belongs, and masks a parent ID inside a reason', () => {
    const record = auditRecord({
      kind: 'token-discarded',
      source: TOKEN,
      fingerprint: TOKEN,
      trustDomain: `example.org/spire/agent/join_token/${TOKEN}`,
      reason: `agent spiffe://example.org/spire/agent/join_token/${TOKEN} refused`,
      at: AT,
    });
    expect(JSON.stringify(record)).not.toContain(TOKEN);
    expect(record).toMatchObject({
      source: 'other',
      fingerprint: FP,
      parent_id: null,
      reason: `agent spiffe://example.org/spire/agent/join_token/${FP}… refused`,
    });
  });

  it('defaults the time to now', () => {
    expect(auditRecord({ kind: 'token-consumed', fingerprint: FP }, () => AT.getTime()).at).toBe(
      '2030-01-01T00:00:00.000Z',
    );
  });
});

describe('createAuditLog', () => {
  it('appends one JSON line per event to a 0600 file and logs each as an audit event', async () => {
    const { logger, records } = captureLogger();
    const audit = createAuditLog({ path, logger });
    await audit.record({ kind: 'token-acquired', source: 'file', fingerprint: FP, at: AT });
    await audit.record({ kind: 'token-consumed', source: 'file', fingerprint: FP, at: AT });
    const written = await lines(path);
    expect(written.map((r) => r.event)).toEqual(['token-acquired', 'token-consumed']);
    expect(await mode(path)).toBe(0o600);
    expect(records.map((r) => [r.level, r.msg, (r.audit as { fingerprint: string }).fingerprint])).toEqual([
      ['info', 'audit: token acquired', FP],
      ['info', 'audit: token consumed', FP],
    ]);
    expect(records[0]?.audit).toEqual(written[0]);
  });

  it('tightens an existing file that group or others can read', async () => {
    await writeFile(path, '');
    await chmod(path, 0o644);
    const audit = createAuditLog({ path, logger: captureLogger().logger });
    await audit.record({ kind: 'token-discarded', fingerprint: FP, reason: 'expired', at: AT });
    expect(await mode(path)).toBe(0o600);
    expect(await lines(path)).toHaveLength(1);
  });

  it('never writes the token, in the file or the log', async () => {
    const { logger, records } = captureLogger();
    const audit = createAuditLog({ path, logger });
    await audit.record({
      kind: 'token-rejected',
      fingerprint: TOKEN,
      reason: `spiffe://example.org/spire/agent/join_token/${TOKEN}: join token expired`,
    });
    expect(await readFile(path, 'utf8')).not.toContain(TOKEN);
    expect(JSON.stringify(records)).not.toContain(TOKEN);
  });

  it('rotates by size and keeps the configured number of files, each 0600', async () => {
    const audit = createAuditLog({ path, logger: captureLogger().logger, maxBytes: 400, keep: 2 });
    const lineLength = `${JSON.stringify(auditRecord({ kind: 'token-consumed', fingerprint: FP, at: AT }))}\n`
      .length;
    const perFile = Math.floor(400 / lineLength);
    const total = perFile * 4;
    // Concurrent calls: the queue must still produce whole lines and a single rotation per overflow.
    await Promise.all(
      Array.from({ length: total }, (_, i) =>
        audit.record({ kind: 'token-consumed', fingerprint: FP, at: new Date(AT.getTime() + i * 1000) }),
      ),
    );
    expect((await readdir(dir)).sort()).toEqual(['audit.jsonl', 'audit.jsonl.1', 'audit.jsonl.2']);
    const kept = [...(await lines(`${path}.2`)), ...(await lines(`${path}.1`)), ...(await lines(path))];
    expect(kept).toHaveLength(perFile * 3);
    // Oldest first and contiguous: the newest events survive, in order.
    const seconds = kept.map((r) => (Date.parse(r.at) - AT.getTime()) / 1000);
    expect(seconds).toEqual(Array.from({ length: perFile * 3 }, (_, i) => perFile + i));
    for (const file of [path, `${path}.1`, `${path}.2`]) {
      expect((await stat(file)).size).toBeLessThanOrEqual(400);
      expect(await mode(file)).toBe(0o600);
    }
  });

  it('logs a failed write instead of throwing, and still handles later events', async () => {
    const { logger, records } = captureLogger();
    const blocked = join(dir, 'blocked');
    await writeFile(blocked, '');
    const audit = createAuditLog({ path: join(blocked, 'audit.jsonl'), logger });
    await expect(audit.record({ kind: 'token-consumed', fingerprint: FP, at: AT })).resolves.toBeUndefined();
    const failure = records.find((r) => r.level === 'error');
    expect(failure?.msg).toBe(`audit: cannot append to ${join(blocked, 'audit.jsonl')} (EEXIST)`);
    expect(failure?.code).toBe('EEXIST');
    await audit.record({ kind: 'token-discarded', fingerprint: FP, reason: 'expired', at: AT });
    expect(records.filter((r) => r.level === 'error')).toHaveLength(2);
  });
});
