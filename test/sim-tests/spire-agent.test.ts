import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchX509SvidsOnce } from '../sim/common/workload-client.js';
import { describe as describeCert, splitDer, verifySignedBy } from '../sim/common/x509.js';
import { SIM_BIN } from '../sim/launch.js';
import {
  createEntries,
  joinTokenAgentId,
  mintToken,
  type SimServer,
  startAgent,
  startServer,
} from '../sim/topology.js';
import { sandbox } from './harness.js';

// Attestation retries and syncs run 20x faster than SPIRE's real 5 s / 1 min; behaviour is otherwise unchanged.
const FAST = { SIM_TIME_SCALE: '0.05' };
const USED = 'failed to attest: join token does not exist or has already been used';
const uid = process.getuid?.() ?? 0;

const box = sandbox('sim-agent');
let server: SimServer;

beforeAll(async () => {
  server = await startServer(box.dir('server'), { env: FAST });
});
afterAll(() => box.cleanup());

describe('simulated spire-agent', () => {
  it('attests with a join token, persists SPIRE storage and disk keys, then refuses a second use of the token', async () => {
    const token = await mintToken(server);
    const first = await startAgent(box.dir('agent'), server, { joinToken: token.value, env: FAST });
    const line = await first.proc.waitFor(/Node attestation was successful/);
    expect(line).toContain(`spiffe_id="${joinTokenAgentId(server, token.value)}"`);
    expect(line).toContain('reattestable=false');
    const stored = JSON.parse(readFileSync(join(first.dir, 'data', 'agent-data.json'), 'utf8'));
    expect(Buffer.from(stored.svid[0], 'base64').toString()).toMatch(/^-----BEGIN CERTIFICATE-----/);
    expect(Buffer.from(stored.bundle[0], 'base64').toString()).toBe(readFileSync(server.bundlePath, 'utf8'));
    expect(Object.keys(JSON.parse(readFileSync(join(first.dir, 'data', 'keys.json'), 'utf8')).keys)).toEqual([
      'agent-svid-A',
    ]);

    // SPIRE 1.13 retries a rejected token for about a minute (scaled here) before it crashes.
    const second = await startAgent(box.dir('agent-reuse'), server, {
      joinToken: token.value,
      env: FAST,
      waitReady: false,
    });
    expect((await second.proc.exited).code).toBe(1);
    const warn = second.proc.lines.find((l) => l.includes('Failed to retrieve attestation result'));
    expect(warn).toContain(`rpc error: code = InvalidArgument desc = ${USED}`);
    expect(
      second.proc.lines.some((l) => /level=error msg="Agent crashed".*join token does not exist/.test(l)),
    ).toBe(true);
  });

  it('crashes at the first rejection on 1.12, which does not retry bootstrap', async () => {
    const agent = await startAgent(box.dir('agent-112'), server, {
      joinToken: 'never-minted',
      env: { ...FAST, SPIRE_SIM_VERSION: '1.12.4' },
      waitReady: false,
    });
    expect((await agent.proc.exited).code).toBe(1);
    expect(agent.proc.lines.some((l) => l.includes('Failed to retrieve attestation result'))).toBe(false);
    expect(agent.proc.lines.some((l) => l.includes(USED))).toBe(true);
  });

  it('burns an expired token: the first use says expired, any retry says it does not exist', async () => {
    const token = await mintToken(server, 1);
    while (Date.now() <= token.expires_at * 1000) await new Promise((r) => setTimeout(r, 50));
    const agent = await startAgent(box.dir('agent-expired'), server, {
      joinToken: token.value,
      env: FAST,
      waitReady: false,
    });
    expect((await agent.proc.exited).code).toBe(1);
    const failures = agent.proc.lines.filter((l) => l.includes('Failed to retrieve attestation result'));
    expect(failures[0]).toContain('desc = join token expired');
    expect(failures[1]).toContain(USED);
  });

  it('skips attestation on restart when the SVID and its disk key are kept', async () => {
    const token = await mintToken(server);
    const dir = box.dir('agent-restart');
    const first = await startAgent(dir, server, { joinToken: token.value, env: FAST });
    await first.proc.stop();
    const again = await startAgent(dir, server, { env: FAST });
    const loaded = await again.proc.waitFor(/msg="SVID loaded"/);
    expect(loaded).toContain(joinTokenAgentId(server, token.value));
    expect(again.proc.lines.some((l) => l.includes('Starting node attestation'))).toBe(false);
    await again.proc.stop();
  });

  it('with KeyManager "memory" attests on every start, so a restart with the used token fails', async () => {
    const token = await mintToken(server);
    const dir = box.dir('agent-memory');
    const first = await startAgent(dir, server, { joinToken: token.value, keyManager: 'memory', env: FAST });
    await first.proc.stop();
    const again = await startAgent(dir, server, {
      joinToken: token.value,
      keyManager: 'memory',
      env: { ...FAST, SPIRE_SIM_VERSION: '1.12.4' },
      waitReady: false,
    });
    expect((await again.proc.exited).code).toBe(1);
    expect(again.proc.lines.some((l) => l.includes('SVID recovered, but no keys found'))).toBe(true);
    expect(again.proc.lines.some((l) => l.includes(USED))).toBe(true);
  });

  it('serves the Workload API: header required, no identity without an entry, SVIDs chained to the bundle', async () => {
    const token = await mintToken(server);
    const agent = await startAgent(box.dir('agent-workload'), server, { joinToken: token.value, env: FAST });

    const noHeader = await fetchX509SvidsOnce(agent.socket, false).catch((e: grpc.ServiceError) => e);
    expect(noHeader).toMatchObject({
      code: grpc.status.INVALID_ARGUMENT,
      details: 'security header missing from request',
    });
    const none = await fetchX509SvidsOnce(agent.socket).catch((e: grpc.ServiceError) => e);
    expect(none).toMatchObject({ code: grpc.status.PERMISSION_DENIED, details: 'no identity issued' });

    const parent = joinTokenAgentId(server, token.value);
    await createEntries(server, [
      {
        spiffeId: 'spiffe://example.org/workload/mine',
        parentId: parent,
        selectors: [`unix:uid:${uid}`],
        x509SvidTtl: 600,
      },
      {
        spiffeId: 'spiffe://example.org/workload/other-uid',
        parentId: parent,
        selectors: [`unix:uid:${uid + 4242}`],
      },
    ]);
    let svids = await fetchX509SvidsOnce(agent.socket).catch(() => []);
    while (svids.length === 0) svids = await fetchX509SvidsOnce(agent.socket).catch(() => []);
    expect(svids.map((s) => s.spiffe_id)).toEqual(['spiffe://example.org/workload/mine']);
    const [leaf] = splitDer(svids[0]?.x509_svid as Buffer);
    const [root] = splitDer(svids[0]?.bundle as Buffer);
    expect(await verifySignedBy(leaf as Buffer, root as Buffer)).toBe(true);
    const ttl = (describeCert(leaf as Buffer).notAfter.getTime() - Date.now()) / 1000;
    expect(ttl).toBeGreaterThan(500);
    expect(ttl).toBeLessThanOrEqual(600);
  });

  it('yields unix:path selectors only with discover_workload_path', async () => {
    const path = '/opt/spire/bin/spire-server';
    const env = { ...FAST, SPIRE_SIM_CALLER_SELECTORS: `unix:uid:${uid},unix:path:${path}` };
    for (const discover of [false, true]) {
      const token = await mintToken(server);
      const agent = await startAgent(box.dir(`agent-path-${discover}`), server, {
        joinToken: token.value,
        env,
        discoverWorkloadPath: discover,
      });
      const parentId = joinTokenAgentId(server, token.value);
      // One batch, so the uid entry's arrival proves the path entry reached the agent too.
      await createEntries(server, [
        { spiffeId: 'spiffe://example.org/by-uid', parentId, selectors: [`unix:uid:${uid}`] },
        { spiffeId: 'spiffe://example.org/by-path', parentId, selectors: [`unix:path:${path}`] },
      ]);
      let got: string[] = [];
      while (!got.includes('spiffe://example.org/by-uid')) {
        got = await fetchX509SvidsOnce(agent.socket).then(
          (s) => s.map((x) => x.spiffe_id),
          () => [],
        );
      }
      expect(got.sort()).toEqual(
        discover
          ? ['spiffe://example.org/by-path', 'spiffe://example.org/by-uid']
          : ['spiffe://example.org/by-uid'],
      );
      await agent.proc.stop();
    }
  });
});

describe('spire-agent configuration', () => {
  const run = (conf: string, env: NodeJS.ProcessEnv = {}, extra: string[] = []) => {
    const path = join(box.root, `agent-${Math.random().toString(36).slice(2)}.conf`);
    writeFileSync(path, conf);
    return spawnSync(join(SIM_BIN, 'spire-agent'), ['run', '-config', path, ...extra], {
      env: { ...process.env, ...env },
      encoding: 'utf8',
    });
  };
  const base = (agentExtra: string) => `agent {
  data_dir = "${box.root}/cfg"
  server_address = "127.0.0.1"
  server_port = 1
  trust_domain = "example.org"
  ${agentExtra}
}
plugins { KeyManager "memory" { plugin_data {} } NodeAttestor "join_token" { plugin_data {} } }
`;

  it.each([
    [
      'join_token and join_token_file together',
      'insecure_bootstrap = true\njoin_token = "a"\njoin_token_file = "/x"',
      {},
      'only one of join_token or join_token_file can be specified, not both',
    ],
    [
      'no trust bundle and no insecure_bootstrap',
      '',
      {},
      'trust_bundle_path or trust_bundle_url must be configured unless insecure_bootstrap is set',
    ],
    [
      'join_token_file before 1.13.3',
      'insecure_bootstrap = true\njoin_token_file = "/x"',
      { SPIRE_SIM_VERSION: '1.13.2' },
      'unknown configuration detected',
    ],
    [
      'retry_bootstrap on 1.14',
      'insecure_bootstrap = true\nretry_bootstrap = true',
      { SPIRE_SIM_VERSION: '1.14.0' },
      'unknown configuration detected',
    ],
    ['an unknown key', 'insecure_bootstrap = true\nbogus = 1\nfoo = 2', {}, 'unknown configuration detected'],
    [
      'an empty join token file',
      `insecure_bootstrap = true\njoin_token_file = "${'/dev/null'}"`,
      {},
      'join token file is empty',
    ],
  ])('refuses %s', (_name, extra, env, message) => {
    const res = run(base(extra), env);
    expect(res.status).toBe(1);
    expect(res.stderr.trim()).toBe(message);
  });

  it('logs the unknown keys sorted, as SPIRE does', () => {
    const res = run(base('insecure_bootstrap = true\nfoo = 2\nbogus = 1'));
    expect(res.stdout).toMatch(
      /level=error msg="Unknown configuration detected" keys="bogus,foo" section=agent/,
    );
  });

  it('counts -joinToken against join_token_file', () => {
    const res = run(base('insecure_bootstrap = true\njoin_token_file = "/x"'), {}, ['-joinToken', 'abc']);
    expect(res.stderr.trim()).toBe('only one of join_token or join_token_file can be specified, not both');
  });

  it('tightens a permissive umask to 0027 and says so, as SPIRE does', () => {
    const path = join(box.root, 'umask-agent.conf');
    writeFileSync(path, base('insecure_bootstrap = true'));
    const res = spawnSync(
      'sh',
      ['-c', 'umask 0002 && exec "$0" run -config "$1"', join(SIM_BIN, 'spire-agent'), path],
      {
        encoding: 'utf8',
      },
    );
    expect(res.stdout).toMatch(
      /level=warning msg="Current umask 0002 is too permissive; setting umask 0027"/,
    );
  });

  it('prints its version on stderr', () => {
    const res = spawnSync(join(SIM_BIN, 'spire-agent'), ['--version'], {
      encoding: 'utf8',
      env: { ...process.env, SPIRE_SIM_VERSION: '1.11.2' },
    });
    expect(res.status).toBe(0);
    expect(res.stderr).toBe('1.11.2\n');
  });
});
