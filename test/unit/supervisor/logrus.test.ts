import { describe, expect, it } from 'vitest';
import { type ParsedLine, parseLogrusLine } from '../../../src/supervisor/logrus.js';

const T = 'time="2025-11-27T21:00:00Z"';

describe('parseLogrusLine', () => {
  const cases: Array<[string, string, ParsedLine]> = [
    [
      'text, unquoted and quoted fields',
      `${T} level=info msg="Starting Server APIs" address="127.0.0.1:8081" network=tcp subsystem_name=endpoints`,
      {
        level: 'info',
        msg: 'Starting Server APIs',
        fields: { address: '127.0.0.1:8081', network: 'tcp', subsystem_name: 'endpoints' },
      },
    ],
    [
      'text, warning becomes warn; escaped quotes and backslashes',
      `${T} level=warning msg="Failed to retrieve attestation result" error="rpc error: code = InvalidArgument desc = \\"join token expired\\" at C:\\\\x"`,
      {
        level: 'warn',
        msg: 'Failed to retrieve attestation result',
        fields: { error: 'rpc error: code = InvalidArgument desc = "join token expired" at C:\\x' },
      },
    ],
    [
      'text, Go escapes \\n \\t \\x \\u',
      `level=error msg="a\\nb\\tc" raw="\\xc3\\xa9-\\u00e9"`,
      { level: 'error', msg: 'a\nb\tc', fields: { raw: 'é-é' } },
    ],
    [
      'text, unquoted message and empty value',
      'level=debug msg=Ready empty=',
      { level: 'debug', msg: 'Ready', fields: { empty: '' } },
    ],
    ['text, panic becomes fatal', `${T} level=panic msg=boom`, { level: 'fatal', msg: 'boom', fields: {} }],
    [
      'text, fatal stays fatal',
      'level=fatal msg="Agent crashed"',
      { level: 'fatal', msg: 'Agent crashed', fields: {} },
    ],
    ['text, trace', 'level=trace msg=x', { level: 'trace', msg: 'x', fields: {} }],
    ['text, unknown level is info', 'level=verbose msg=x', { level: 'info', msg: 'x', fields: {} }],
    [
      'json, time dropped, typed fields kept',
      '{"level":"warning","msg":"Failed","time":"2025-11-27T21:00:00Z","retries":3,"ok":false,"error":"x"}',
      { level: 'warn', msg: 'Failed', fields: { retries: 3, ok: false, error: 'x' } },
    ],
    ['json, panic', '{"level":"panic","msg":"p"}', { level: 'fatal', msg: 'p', fields: {} }],
    ['plain text', 'goroutine 1 [running]:', { level: 'info', msg: 'goroutine 1 [running]:', fields: {} }],
    ['text without msg', 'level=info foo=bar', { level: 'info', msg: 'level=info foo=bar', fields: {} }],
    [
      'unterminated quote',
      'level=info msg="half',
      { level: 'info', msg: 'level=info msg="half', fields: {} },
    ],
    ['bad escape', 'level=info msg="a\\qb"', { level: 'info', msg: 'level=info msg="a\\qb"', fields: {} }],
    ['json without level', '{"msg":"x"}', { level: 'info', msg: '{"msg":"x"}', fields: {} }],
    ['broken json', '{"level":', { level: 'info', msg: '{"level":', fields: {} }],
    ['json array', '[1,2]', { level: 'info', msg: '[1,2]', fields: {} }],
    ['trailing whitespace trimmed', 'level=info msg=x   \r', { level: 'info', msg: 'x', fields: {} }],
  ];
  it.each(cases)('%s', (_name, line, expected) => {
    expect(parseLogrusLine(line)).toEqual(expected);
  });
});
