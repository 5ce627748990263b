import hcl from 'js-hcl-parser';
import { describe, expect, it } from 'vitest';
import { attr, block, formatValue, quote, renderHcl } from '../../../src/spire/hcl.js';

// js-hcl-parser is HashiCorp's HCL v1 (the parser SPIRE uses) compiled to JS; it returns JSON text.
const parse = (text: string): unknown => JSON.parse(hcl.parse(text));

describe('quote', () => {
  it.each([
    ['plain', '"plain"'],
    ['say "hi"', '"say \\"hi\\""'],
    ['C:\\dir', '"C:\\\\dir"'],
    ['a\nb\r\tc', '"a\\nb\\r\\tc"'],
    ['bell\u0007del\u007f', '"bell\\u0007del\\u007f"'],
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a literal "${" is what is tested
    ['${HOME}', '"\\u0024{HOME}"'],
    ['%{ if x }', '"\\u0025{ if x }"'],
    ['$5 and 100%', '"$5 and 100%"'],
  ])('quotes %j as %s', (input, expected) => {
    expect(quote(input)).toBe(expected);
  });

  it.each([
    'x"\n}\nplugins {',
    'x" \n  join_token = "stolen',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a literal "${" is what is tested
    '${file("/etc/shadow")}',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a literal "${" is what is tested
    '$${x} %%{y} \\${z}',
    'back\\slash\\"quote',
    '\u0000\u0001\u001f\u2028',
    'ünïcödé ✓',
  ])('round-trips %j through an HCL v1 parser as one string', (value) => {
    const text = renderHcl([block('agent', [], [attr('data_dir', value), attr('after', 1)])]);
    expect(parse(text)).toEqual({ agent: [{ data_dir: value, after: 1 }] });
  });
});

describe('formatValue', () => {
  it('formats numbers, bools and lists', () => {
    expect(formatValue(8081)).toBe('8081');
    expect(formatValue(true)).toBe('true');
    expect(formatValue(false)).toBe('false');
    expect(formatValue(['a', 1, [true]])).toBe('["a", 1, [true]]');
  });

  it('refuses numbers HCL cannot hold', () => {
    expect(() => formatValue(Number.NaN)).toThrow('HCL cannot represent the number NaN');
  });
});

describe('renderHcl', () => {
  it('renders attributes and labelled blocks that parse back', () => {
    const text = renderHcl([
      block('agent', [], [attr('server_port', 8081), attr('names', ['a', 'b'])]),
      block(
        'plugins',
        [],
        [
          block('KeyManager', ['disk'], [block('plugin_data', [], [attr('directory', '/var/lib/x')])]),
          block('NodeAttestor', ['join_token'], [block('plugin_data', [], [])]),
        ],
      ),
    ]);
    expect(text).toBe(
      [
        'agent {',
        '  server_port = 8081',
        '  names = ["a", "b"]',
        '}',
        '',
        'plugins {',
        '  KeyManager "disk" {',
        '    plugin_data {',
        '      directory = "/var/lib/x"',
        '    }',
        '  }',
        '  NodeAttestor "join_token" {',
        '    plugin_data {}',
        '  }',
        '}',
        '',
      ].join('\n'),
    );
    expect(parse(text)).toEqual({
      agent: [{ server_port: 8081, names: ['a', 'b'] }],
      plugins: [
        {
          KeyManager: [{ disk: [{ plugin_data: [{ directory: '/var/lib/x' }] }] }],
          NodeAttestor: [{ join_token: [{ plugin_data: [{}] }] }],
        },
      ],
    });
  });

  it('escapes block labels too', () => {
    const text = renderHcl([block('K', ['a"b\n'], [attr('x', 1)])]);
    expect(parse(text)).toEqual({ K: [{ 'a"b\n': [{ x: 1 }] }] });
  });

  it('refuses identifiers that are not HCL names', () => {
    expect(() => attr('bad key', 1)).toThrow('invalid HCL identifier "bad key"');
    expect(() => block('x=y', [], [])).toThrow('invalid HCL identifier "x=y"');
  });
});
