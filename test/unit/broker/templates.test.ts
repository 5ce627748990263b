import { describe, expect, it } from 'vitest';
import { compileTemplate, matchTemplate, templateProblem } from '../../../src/broker/templates.js';

describe('SPIFFE ID path templates', () => {
  const t = compileTemplate('/ns/{name}/poller-nested-spire');

  it.each([
    ['/ns/site-1/poller-nested-spire', 'site-1'],
    ['/ns/a/poller-nested-spire', 'a'],
  ])('%s binds name=%s', (path, name) => {
    expect(matchTemplate(t, path)?.get('name')).toBe(name);
  });

  it.each([
    '/ns/site-1/other',
    '/ns/a/b/poller-nested-spire',
    '/ns//poller-nested-spire',
    '/ns/Site/poller-nested-spire',
    '/ns/-site/poller-nested-spire',
    '/ns/site_1/poller-nested-spire',
    `/ns/${'a'.repeat(64)}/poller-nested-spire`,
    'ns/site/poller-nested-spire',
  ])('%s does not match', (path) => {
    expect(matchTemplate(t, path)).toBeNull();
  });

  it('a placeholder bound by one ID must take the same value in the other', () => {
    const client = compileTemplate('/ns/{name}/poller-agent');
    const bound = matchTemplate(client, '/ns/site-1/poller-agent');
    expect(matchTemplate(t, '/ns/site-1/poller-nested-spire', bound ?? undefined)).not.toBeNull();
    expect(matchTemplate(t, '/ns/site-2/poller-nested-spire', bound ?? undefined)).toBeNull();
  });

  it.each([
    ['ns/{name}', 'a path starting with "/"'],
    ['/ns//x', 'a path without empty, "." or ".." segments'],
    [
      '/ns/pre-{name}',
      'path segments of letters, digits, ".", "-", "_", or a whole-segment placeholder such as "{name}"',
    ],
    ['/spire/agent/{name}', 'a path outside /spire (reserved by SPIRE for its agents and servers)'],
    ['/{name}/{name}', 'a path naming each placeholder once'],
  ])('%s is refused: expected %s', (text, problem) => {
    expect(templateProblem(text)).toBe(problem);
  });
});
