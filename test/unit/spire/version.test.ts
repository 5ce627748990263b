import { describe, expect, it } from 'vitest';
import {
  compareSpireVersions,
  formatSpireVersion,
  hasRebootstrap,
  hasRetryBootstrap,
  mustParseSpireVersion,
  parseSpireVersion,
  supportsJoinTokenFile,
} from '../../../src/spire/version.js';

const v = mustParseSpireVersion;

describe('parseSpireVersion', () => {
  it.each([
    ['1.13.3', { major: 1, minor: 13, patch: 3, prerelease: null }],
    ['v1.11.2', { major: 1, minor: 11, patch: 2, prerelease: null }],
    [' 1.14.0-rc1\n', { major: 1, minor: 14, patch: 0, prerelease: 'rc1' }],
    ['1.13.3-dev-unk', { major: 1, minor: 13, patch: 3, prerelease: 'dev-unk' }],
  ])('parses %j', (text, expected) => {
    expect(parseSpireVersion(text)).toEqual(expected);
  });

  it.each(['', '1.13', '1.13.x', '01.2.3', 'latest'])('rejects %j', (text) => {
    expect(parseSpireVersion(text)).toBeNull();
  });

  it('formats back', () => {
    expect(formatSpireVersion(v('v1.14.0-rc1'))).toBe('1.14.0-rc1');
  });
});

describe('compareSpireVersions', () => {
  it('orders numerically with prereleases before their release', () => {
    const sorted = ['1.14.0', '1.9.9', '1.13.3', '1.14.0-rc1', '1.13.10'].map(v).sort(compareSpireVersions);
    expect(sorted.map(formatSpireVersion)).toEqual(['1.9.9', '1.13.3', '1.13.10', '1.14.0-rc1', '1.14.0']);
  });
});

describe('feature predicates (DESIGN §6 matrix)', () => {
  it.each([
    ['1.11.2', false, true, false],
    ['1.13.0', false, true, true],
    ['1.13.2', false, true, true],
    ['1.13.3', true, true, true],
    ['1.14.0', true, false, true],
    ['1.14.0-rc1', true, false, true],
    ['1.15.3', true, false, true],
  ])('%s: join_token_file %s, retry_bootstrap %s, rebootstrap %s', (text, file, retry, rebootstrap) => {
    expect(supportsJoinTokenFile(v(text))).toBe(file);
    expect(hasRetryBootstrap(v(text))).toBe(retry);
    expect(hasRebootstrap(v(text))).toBe(rebootstrap);
  });
});
