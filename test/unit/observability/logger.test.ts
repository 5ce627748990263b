import { describe, expect, it } from 'vitest';
import { REDACT_PATHS } from '../../../src/observability/logger.js';
import { captureLogger } from '../../fixtures/capture-logger.js';

describe('createLogger', () => {
  it('censors every secret-bearing field, at the top level and nested', () => {
    const { logger, records } = captureLogger();
    logger.info(
      {
        token: 't-1',
        joinToken: 't-2',
        join_token: 't-3',
        apiKey: 'k-1',
        api_key: 'k-2',
        authorization: 'Bearer b-1',
        password: 'p-1',
        bearer: 'b-2',
        access_token: 'a-1',
        'x-api-key': 'k-3',
        headers: { authorization: 'Bearer b-3', 'x-api-key': 'k-4', accept: 'application/json' },
        req: { headers: { authorization: 'Bearer b-4' } },
        admin: { password: 'p-2', user: 'ops' },
        trustDomain: 'example.org',
      },
      'request',
    );
    const text = JSON.stringify(records);
    for (const secret of [
      't-1',
      't-2',
      't-3',
      'k-1',
      'k-2',
      'k-3',
      'k-4',
      'b-1',
      'b-2',
      'b-3',
      'b-4',
      'p-1',
      'p-2',
      'a-1',
    ]) {
      expect(text).not.toContain(secret);
    }
    expect(records[0]).toMatchObject({
      level: 'info',
      msg: 'request',
      token: '[REDACTED]',
      apiKey: '[REDACTED]',
      'x-api-key': '[REDACTED]',
      headers: { authorization: '[REDACTED]', 'x-api-key': '[REDACTED]', accept: 'application/json' },
      req: { headers: { authorization: '[REDACTED]' } },
      admin: { password: '[REDACTED]', user: 'ops' },
      trustDomain: 'example.org',
    });
  });

  it('censors secrets in child logger bindings too', () => {
    const { logger, records } = captureLogger();
    logger.child({ child: 'upstream-agent' }).warn({ fields: { token: 'secret' } }, 'line');
    expect(records[0]).toMatchObject({ child: 'upstream-agent', fields: { token: '[REDACTED]' } });
  });

  it('drops lines below the configured level and names levels as words', () => {
    const { logger, records } = captureLogger('warn');
    logger.info('hidden');
    logger.error('shown');
    expect(records.map((r) => [r.level, r.msg])).toEqual([['error', 'shown']]);
  });

  it('exports the redact paths, including hyphenated keys in bracket notation', () => {
    expect(REDACT_PATHS).toContain('token');
    expect(REDACT_PATHS).toContain('*.authorization');
    expect(REDACT_PATHS).toContain('*["x-api-key"]');
  });
});
