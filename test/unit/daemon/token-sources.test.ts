// Which sources each agent asks, in which order: the agent's own token file always first, so a token minted for it
// before a crash is offered before another one is minted.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/load.js';
import { buildTokenSources } from '../../../src/daemon/token-sources.js';

const root = mkdtempSync(join(tmpdir(), 'pb-token-sources-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const config = (token: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
  parseConfig({
    trust_domain: 'example.org',
    state_dir: join(root, 'state'),
    run_dir: join(root, 'run'),
    upstream: { server_address: 'spire.example.org', insecure_bootstrap: true },
    token,
    ...extra,
  });

const names = async (c: ReturnType<typeof config>) => {
  const built = await buildTokenSources(c, {});
  built.close();
  return {
    up: built.sources['upstream-agent'].map((s) => s.name),
    down: built.sources['downstream-agent'].map((s) => s.name),
  };
};

describe('buildTokenSources', () => {
  it('asks the downstream agent’s own token file before the nested server', async () => {
    expect((await names(config({ sources: ['file'] }))).down).toEqual(['file', 'nested-server']);
  });

  it('keeps the configured order when it names the file, and puts the file first when it does not', async () => {
    const direct = { spire_server: { socket_path: join(root, 'api.sock') } };
    expect((await names(config({ sources: ['credentials', 'file', 'spire-server'] }, direct))).up).toEqual([
      'file',
      'spire-server',
    ]);
    expect((await names(config({ sources: ['spire-server'] }, direct))).up).toEqual(['file', 'spire-server']);
  });
});
