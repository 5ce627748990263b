// Property: any string the config accepts is written into SPIRE's HCL so that HashiCorp's own HCL v1 parser
// (the one SPIRE uses) reads back exactly that string, and nothing else: no injected key, no interpolation.
import fc from 'fast-check';
import hcl from 'js-hcl-parser';
import { describe, expect, it } from 'vitest';
import { attr, block, renderHcl } from '../../../src/spire/hcl.js';

const parse = (text: string) => JSON.parse(hcl.parse(text)) as { agent: { value: string; other: string }[] };

// Every code point class that matters: quotes, backslashes, $ and % before {, control characters, non-BMP.
const tricky = fc.string({
  unit: fc.oneof(
    fc.constantFrom(
      '"',
      '\\',
      '$',
      '{',
      '%',
      '}',
      '\n',
      '\r',
      '\t',
      '\u0000',
      '\u007f',
      '\u2028',
      '#',
      '//',
      '*/',
    ),
    fc.string({ unit: 'grapheme', maxLength: 1 }),
  ),
  maxLength: 40,
});

describe('the HCL writer', () => {
  it('round-trips any string through the HCL v1 parser, leaving the next key intact', () => {
    fc.assert(
      fc.property(tricky, (s) => {
        const text = renderHcl([block('agent', [], [attr('value', s), attr('other', 'kept')])]);
        const doc = parse(text);
        expect(doc.agent[0]?.value).toBe(s);
        expect(doc.agent[0]?.other).toBe('kept');
        expect(Object.keys(doc.agent[0] ?? {}).sort()).toEqual(['other', 'value']);
      }),
      { numRuns: 500 },
    );
  });
});
