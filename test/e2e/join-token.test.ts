import { spawnSync } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callUnary, services } from '../../src/spire/proto.js';
import { fetchX509SvidsOnce } from '../sim/common/workload-client.js';
import { freePort } from '../sim/launch.js';
import {
  createEntries,
  joinTokenAgentId,
  mintToken,
  type SimAdmin,
  type SimAgent,
  type SimServer,
  startAdmin,
  startAgent,
  startServer,
} from '../sim/topology.js';
import { sandbox } from '../sim-tests/harness.js';
import { DAEMON, uid } from './harness.js';

const FAST = { SIM_TIME_SCALE: '0.05' };
const PASSWORD = 'join-token-e2e-password-3b1d';
const box = sandbox('e2e-join-token');
let server: SimServer;
let control: number;
let admin: SimAdmin;
let agent: SimAgent;
const files = { password: '', viewerPassword: '' };

beforeAll(async () => {
  control = await freePort();
  server = await startServer(box.dir('cluster'), { env: { ...FAST, SIM_CONTROL_PORT: String(control) } });
  admin = await startAdmin(box.dir('core'), server, {
    users: [
      { username: 'ops', password: PASSWORD, roles: ['admin'] },
      { username: 'viewer', password: PASSWORD, roles: ['viewer'] },
    ],
  });
  files.password = join(box.root, 'password');
  writeFileSync(files.password, PASSWORD, { mode: 0o600 });
  // An agent whose Workload API serves the admin workload below.
  const token = await mintToken(server);
  agent = await startAgent(box.dir('agent'), server, { joinToken: token.value, env: FAST });
  await createEntries(server, [
    {
      spiffeId: 'spiffe://example.org/ops/enroller',
      parentId: joinTokenAgentId(server, token.value),
      selectors: [`unix:uid:${uid}`],
      admin: true,
    },
  ]);
  while ((await fetchX509SvidsOnce(agent.socket).catch(() => [])).length === 0);
});
afterAll(() => box.cleanup());

const run = (args: string[]) =>
  spawnSync(process.execPath, [DAEMON, 'join-token', ...args], { encoding: 'utf8' });
const minted = async () =>
  ((await (await fetch(`http://127.0.0.1:${control}/stats`)).json()) as Record<string, number>)
    .create_join_token ?? 0;
const DOWNSTREAM = [
  '--register-downstream',
  '--downstream-spiffe-id',
  'spiffe://example.org/ns/edge1/poller-nested-spire',
  '--selector',
  'unix:uid:0',
];

async function entriesFor(spiffePath: string) {
  const client = new services.entry(`unix:${server.socket}`, grpc.credentials.createInsecure());
  try {
    const res = await callUnary<{
      entries: {
        id: string;
        parent_id: { path: string };
        downstream: boolean;
        spiffe_id: { path: string };
      }[];
    }>(client, 'ListEntries', {});
    return res.entries.filter((e) => e.spiffe_id.path === spiffePath);
  } finally {
    client.close();
  }
}

describe('poller-bootstrap join-token', () => {
  it('mints through the admin socket, prints only what identifies the token, and registers the downstream entry', async () => {
    const res = run(['--socket-path', server.socket, ...DOWNSTREAM, '--ttl', '10m']);
    expect(res.status, res.stderr).toBe(0);
    const shown = JSON.parse(res.stdout) as Record<string, string>;
    expect(Object.keys(shown).sort()).toEqual([
      'downstream_entry_id',
      'expires_at',
      'fingerprint',
      'parent_spiffe_id',
    ]);
    expect(shown.parent_spiffe_id).toMatch(
      /^spiffe:\/\/example\.org\/spire\/agent\/join_token\/[0-9a-f]{12}…$/,
    );
    expect(res.stderr).toContain('the token is not shown; use --output FILE or --token-only');
    const entries = await entriesFor('/ns/edge1/poller-nested-spire');
    expect(entries.find((e) => e.id === shown.downstream_entry_id)).toMatchObject({ downstream: true });
  });

  it('writes the whole response 0600 with --output, and the token works for an agent', async () => {
    const out = join(box.root, 'token.json');
    const res = run(['--socket-path', server.socket, '--output', out]);
    expect(res.status, res.stderr).toBe(0);
    expect(statSync(out).mode & 0o777).toBe(0o600);
    const body = JSON.parse(readFileSync(out, 'utf8')) as { token: string; parent_spiffe_id: string };
    expect(body.parent_spiffe_id).toBe(joinTokenAgentId(server, body.token));
    expect(res.stdout).not.toContain(body.token);
    const used = await startAgent(box.dir('user'), server, { joinToken: body.token, env: FAST });
    await used.proc.stop();
  });

  it('refuses an existing output file, or a missing directory, before minting anything', async () => {
    const existing = join(box.root, 'existing.json');
    writeFileSync(existing, 'keep me', { mode: 0o600 });
    const before = await minted();
    const taken = run(['--socket-path', server.socket, '--output', existing]);
    expect(taken.status).toBe(64);
    expect(taken.stderr).toContain(`--output: ${existing} exists; remove it or pass --force`);
    expect(readFileSync(existing, 'utf8')).toBe('keep me');
    const nowhere = run([
      '--socket-path',
      server.socket,
      '--output',
      join(box.root, 'no', 'such', 'dir', 't.json'),
    ]);
    expect(nowhere.status).toBe(73);
    expect(await minted()).toBe(before);
  });

  it.each([
    [['--spiffe-id', 'spiffe://Example.org/x'], '--spiffe-id: expected a trust domain'],
    [['--ttl', 'abc'], '--ttl: expected a duration'],
    [['--ttl', '48h'], 'of at most 24h'],
    [[...DOWNSTREAM.slice(0, 3), '--selector', 'nocolon'], '--selector: expected "type:value"'],
    [
      ['--url', 'https://core.example', '--socket-path', '/x'],
      'give one of --url, --socket-path and --address',
    ],
    [['--url', 'https://core.example'], '--url: give one credential'],
    [['--prune'], '--prune: needs --register-downstream'],
    [['--trust-domain', 'example.org'], '--trust-domain: not used with --socket-path'],
    [
      ['--url', 'https://core.example', '--api-key-file', '/k', '--password-file', '/p'],
      '--password-file: needs --username',
    ],
    [[...DOWNSTREAM, '--prune', '--prune-grace', 'soon'], '--prune-grace: expected a duration'],
    [
      ['--url', 'https://core.example', '--api-key-file', '/k', ...DOWNSTREAM, '--prune'],
      'behind --url the broker prunes by its spire.prune_stale',
    ],
  ])('rejects %j with exit 64 and mints nothing', async (args, message) => {
    const before = await minted();
    const res = run(args.includes('--url') ? args : ['--socket-path', server.socket, ...args]);
    expect(res.status).toBe(64);
    expect(res.stderr).toContain(message);
    expect(await minted()).toBe(before);
  });

  it('--prune deletes only its own earlier entries whose token expired unused', async () => {
    const path = '/ns/edge-prune/poller-nested-spire';
    const ds = [...DOWNSTREAM.slice(0, 2), `spiffe://example.org${path}`, ...DOWNSTREAM.slice(3)];
    const register = (extra: string[]) => {
      const res = run(['--socket-path', server.socket, ...ds, ...extra]);
      expect(res.status, res.stderr).toBe(0);
      return {
        shown: JSON.parse(res.stdout) as { downstream_entry_id: string; pruned_entry_ids?: string[] },
        res,
      };
    };
    const expired = register(['--ttl', '1']).shown.downstream_entry_id;
    const pending = register(['--ttl', '10m']).shown.downstream_entry_id;
    // An operator's own entry for the same ID, under an agent that never attested: not this tool's to delete.
    const operator = await mintToken(server, 1);
    const [theirs] = await createEntries(server, [
      {
        spiffeId: `spiffe://example.org${path}`,
        parentId: joinTokenAgentId(server, operator.value),
        selectors: ['unix:uid:0'],
        downstream: true,
      },
    ]);
    await new Promise((r) => setTimeout(r, 2_100));
    // Expired two seconds ago: within the default grace of 60 s it stays.
    const graced = register(['--prune']).shown;
    expect(graced.pruned_entry_ids).toEqual([]);
    const { shown, res } = register(['--prune', '--prune-grace', '0']);
    expect(shown.pruned_entry_ids).toEqual([expired]);
    expect(res.stderr).toContain(`pruned 1 stale downstream entry for spiffe://example.org${path}`);
    const left = (await entriesFor(path)).map((e) => e.id).sort();
    expect(left).toEqual([pending, theirs?.id, graced.downstream_entry_id, shown.downstream_entry_id].sort());
  });

  it('names a missing --downstream-spiffe-id once, by its flag', () => {
    const res = run(['--socket-path', server.socket, '--register-downstream']);
    expect(res.status).toBe(64);
    expect(res.stderr).toContain('--register-downstream: needs --downstream-spiffe-id');
    expect(res.stderr).not.toContain('downstream: required');
  });

  it('says the server is unreachable (69)', () => {
    const res = run(['--socket-path', join(box.root, 'nothing.sock')]);
    expect(res.status).toBe(69);
    expect(res.stderr).toMatch(
      /^poller-bootstrap join-token: SPIRE Bundle\.GetBundle at unix:\S+nothing\.sock failed \(UNAVAILABLE/,
    );
  });

  it('mints through the admin API with the login flow, and says which credential was refused (77)', async () => {
    const login = (user: string, passwordFile: string, ...more: string[]) =>
      run(['--url', admin.url, '--allow-http', '--username', user, '--password-file', passwordFile, ...more]);
    const ok = login('ops', files.password, '--token-only', ...DOWNSTREAM);
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/^[A-Za-z0-9-]+\n$/);
    const viewer = login('viewer', files.password, ...DOWNSTREAM);
    expect(viewer.status).toBe(77);
    expect(viewer.stderr).toContain('it needs the admin role');
    const wrong = join(box.root, 'wrong');
    writeFileSync(wrong, 'not-the-password', { mode: 0o600 });
    const refused = login('ops', wrong, ...DOWNSTREAM);
    expect(refused.status).toBe(77);
    expect(refused.stderr).toContain('admin API refused the login of user "ops"');
  });

  it('mints over TCP as an admin workload with its Workload API SVID, and is refused without the admin flag', async () => {
    const tcp = ['--address', `127.0.0.1:${server.port}`, '--trust-domain', 'example.org'];
    const res = run([...tcp, '--workload-api-socket', agent.socket, '--token-only']);
    expect(res.status, res.stderr).toBe(0);
    expect(res.stdout.trim()).not.toBe('');
    // A workload without `admin: true`: the SPIRE server refuses it, and nothing is minted.
    const token = await mintToken(server);
    const plain = await startAgent(box.dir('plain'), server, { joinToken: token.value, env: FAST });
    const parentId = joinTokenAgentId(server, token.value);
    await createEntries(server, [
      { spiffeId: 'spiffe://example.org/ops/plain', parentId, selectors: [`unix:uid:${uid}`] },
    ]);
    while ((await fetchX509SvidsOnce(plain.socket).catch(() => [])).length === 0);
    const before = await minted();
    const denied = run([...tcp, '--workload-api-socket', plain.socket]);
    expect(denied.status).toBe(77);
    expect(denied.stderr).toContain('PERMISSION_DENIED');
    expect(await minted()).toBe(before);
    await plain.proc.stop();
  });
});
