import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import hcl from 'js-hcl-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli } from './harness.js';

type Doc = Record<string, Record<string, unknown>[]>;
const parse = (text: string): Doc => JSON.parse(hcl.parse(text)) as Doc;

const SAMPLE = {
  trust_domain: 'carverauto.dev',
  state_dir: '/var/lib/pb',
  run_dir: '/run/pb',
  upstream: {
    server_address: 'spire.example.net',
    server_port: 8081,
    trust_bundle_path: '/etc/pb/bundle.pem',
  },
  spire: { version: '1.13.3' },
};

let dir: string;
const configFile = async (name: string, value: unknown): Promise<string> => {
  const path = join(dir, name);
  await writeFile(path, typeof value === 'string' ? value : JSON.stringify(value));
  return path;
};

// stdout is three sections, each headed by `# <path the daemon writes it to>`.
function sections(stdout: string): Map<string, Doc> {
  const out = new Map<string, Doc>();
  for (const part of stdout.split(/^# (?=\/)/m).filter((p) => p !== '')) {
    const newline = part.indexOf('\n');
    out.set(part.slice(0, newline), parse(part.slice(newline + 1)));
  }
  return out;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cli-render-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('poller-bootstrap render', () => {
  it('prints the three configs, each valid HCL, naming the token files from SPIRE 1.13.3', async () => {
    const path = await configFile('ok.json', SAMPLE);
    const { code, stdout, stderr } = await cli(['render', '--config', path]);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const docs = sections(stdout);
    expect([...docs.keys()]).toEqual([
      '/run/pb/conf/upstream-agent.conf',
      '/run/pb/conf/server.conf',
      '/run/pb/conf/downstream-agent.conf',
    ]);
    const upstream = docs.get('/run/pb/conf/upstream-agent.conf')?.agent?.[0];
    expect(upstream).toMatchObject({
      server_address: 'spire.example.net',
      trust_domain: 'carverauto.dev',
      join_token_file: '/run/pb/upstream-join-token',
    });
    expect(upstream).not.toHaveProperty('join_token');
    expect(docs.get('/run/pb/conf/server.conf')?.server?.[0]).toMatchObject({
      trust_domain: 'carverauto.dev',
    });
    expect(docs.get('/run/pb/conf/downstream-agent.conf')?.agent?.[0]).toMatchObject({
      join_token_file: '/run/pb/downstream-join-token',
      trust_bundle_path: '/var/lib/pb/downstream-agent/bootstrap-bundle.pem',
    });
  });

  it('renders no token key for SPIRE before 1.13.3 and says so on stderr', async () => {
    const path = await configFile('old.json', { ...SAMPLE, spire: { version: '1.11.2' } });
    const { code, stdout, stderr } = await cli(['render', '-c', path]);
    expect(code).toBe(0);
    expect(stderr).toBe('note: SPIRE 1.11.2 has no join_token_file; the agent configs carry no join token\n');
    for (const doc of sections(stdout).values()) {
      for (const agent of doc.agent ?? []) {
        expect(agent).not.toHaveProperty('join_token');
        expect(agent).not.toHaveProperty('join_token_file');
      }
    }
  });

  it('writes the three files with --out', async () => {
    const path = await configFile('out.json', SAMPLE);
    const out = join(dir, 'rendered');
    const { code, stdout } = await cli(['render', '--config', path, '--out', out]);
    expect(code).toBe(0);
    const names = ['upstream-agent.conf', 'server.conf', 'downstream-agent.conf'];
    expect(stdout).toBe(names.map((n) => `wrote ${join(out, n)}\n`).join(''));
    expect((await readdir(out)).sort()).toEqual([...names].sort());
    const docs = await Promise.all(names.map(async (n) => parse(await readFile(join(out, n), 'utf8'))));
    expect(docs.map((d) => 'server' in d)).toEqual([false, true, false]);
    expect(docs[1]?.server?.[0]).toMatchObject({ bind_port: 18081 });
  });

  it('reads the environment overrides', async () => {
    const path = await configFile('env.json', SAMPLE);
    const { stdout } = await cli(['render', '-c', path], {
      env: { POLLER_BOOTSTRAP_TRUST_DOMAIN: 'edge.example' },
    });
    expect(sections(stdout).get('/run/pb/conf/server.conf')?.server?.[0]).toMatchObject({
      trust_domain: 'edge.example',
    });
  });

  it('exits 78 and names every bad field', async () => {
    const path = await configFile('bad.json', {
      ...SAMPLE,
      upstream: { ...SAMPLE.upstream, server_port: 'eighty' },
      colour: 'blue',
    });
    const { code, stdout, stderr } = await cli(['render', '--config', path]);
    expect(code).toBe(78);
    expect(stdout).toBe('');
    expect(stderr).toBe(
      `poller-bootstrap: invalid configuration ${path}:\n` +
        '  colour: unknown key\n' +
        '  upstream.server_port: expected an integer from 1 to 65535, got "eighty"\n',
    );
  });

  it('exits 78 for a missing --config file', async () => {
    const path = join(dir, 'missing.json');
    expect(await cli(['render', '--config', path])).toEqual({
      code: 78,
      stdout: '',
      stderr: `poller-bootstrap: invalid configuration ${path}:\n  ${path}: cannot read the file (no such file)\n`,
    });
  });
});

describe('poller-bootstrap render --check', () => {
  it('exits 0 when DIR holds what --out writes, and 1 with a line diff after an edit', async () => {
    const path = await configFile('check.json', SAMPLE);
    const out = join(dir, 'checked');
    expect((await cli(['render', '--config', path, '--out', out])).code).toBe(0);
    expect(await cli(['render', '--config', path, '--out', out, '--check'])).toEqual({
      code: 0,
      stdout: '3 files up to date\n',
      stderr: '',
    });
    const server = join(out, 'server.conf');
    await writeFile(
      server,
      (await readFile(server, 'utf8')).replace('log_level = "INFO"', 'log_level = "DEBUG"'),
    );
    const { code, stdout } = await cli(['render', '--config', path, '--out', out, '--check']);
    expect(code).toBe(1);
    expect(stdout).toContain(`--- ${server} (on disk)\n+++ rendered\n`);
    expect(stdout).toMatch(/^-7: {3}log_level = "DEBUG"\n\+7: {3}log_level = "INFO"$/m);
    expect(stdout).not.toContain('upstream-agent.conf');
  });

  it('says which files are missing, and writes nothing', async () => {
    const path = await configFile('missing.json', SAMPLE);
    const out = join(dir, 'empty');
    const { code, stdout } = await cli(['render', '--config', path, '--out', out, '--check']);
    expect(code).toBe(1);
    expect(stdout).toContain(`${join(out, 'server.conf')}: missing\n`);
    await expect(readdir(out)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
