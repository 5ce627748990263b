import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/config/errors.js';
import { cli } from './harness.js';

const VERSION = (
  JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  }
).version;

const commandsListed = (help: string): string[] => {
  const section = help.split('Commands:\n')[1]?.split('\n\n')[0] ?? '';
  return section.split('\n').map((line) => line.trim().split(/\s+/)[0] ?? '');
};

describe('poller-bootstrap (top level)', () => {
  it.each([['--help'], ['-h'], ['help']])('%s lists exactly the commands that exist', async (flag) => {
    const { code, stdout, stderr } = await cli([flag]);
    expect(code).toBe(0);
    expect(stderr).toBe('');
    expect(stdout).toMatch(/^Usage: poller-bootstrap <command> \[options\]\n/);
    expect(commandsListed(stdout)).toEqual(['run', 'render', 'status', 'join-token', 'doctor', 'broker']);
  });

  it.each([['--version'], ['-V']])('%s prints the package version', async (flag) => {
    expect(await cli([flag])).toEqual({ code: 0, stdout: `poller-bootstrap ${VERSION}\n`, stderr: '' });
  });

  it.each([
    [['frobnicate'], 'poller-bootstrap: unknown command "frobnicate"'],
    [[], 'poller-bootstrap: no command given'],
    [['help', 'frobnicate'], 'poller-bootstrap: unknown command "frobnicate"'],
  ])('%j exits 64 with the usage on stderr', async (argv, message) => {
    const { code, stdout, stderr } = await cli(argv);
    expect(code).toBe(64);
    expect(stdout).toBe('');
    expect(stderr).toMatch(new RegExp(`^${message}\n\nUsage: poller-bootstrap <command>`));
  });

  it.each([
    ['run', 'Usage: poller-bootstrap run [--config PATH]\n'],
    ['render', 'Usage: poller-bootstrap render [--config PATH] [--out DIR] [--check]\n'],
    ['status', 'Usage: poller-bootstrap status [--json] [--config PATH | --url URL]\n'],
    ['join-token', 'Usage: poller-bootstrap join-token [--url URL CREDENTIAL'],
    ['broker', 'Usage: poller-bootstrap broker [--config PATH]\n'],
  ])('%s --help and help %s print the command usage', async (command, first) => {
    const a = await cli([command, '--help']);
    const b = await cli(['help', command]);
    expect(a.code).toBe(0);
    expect(a.stdout.startsWith(first)).toBe(true);
    expect(b).toEqual(a);
  });

  it('documents the default listen address', async () => {
    expect((await cli(['run', '--help'])).stdout).toContain('default 127.0.0.1:9466');
    expect((await cli(['status', '--help'])).stdout).toContain('(default 127.0.0.1:9466)');
  });

  it.each([
    [['render', '--bogus'], 'render'],
    [['status', 'extra'], 'status'],
    [['run', '--config'], 'run'],
  ])('%j is a usage error with the command usage', async (argv, command) => {
    const { code, stderr } = await cli(argv);
    expect(code).toBe(64);
    expect(stderr).toContain(`\n\nUsage: poller-bootstrap ${command} `);
  });
});

describe('poller-bootstrap run', () => {
  it('hands the config path to the daemon and exits with its code', async () => {
    const seen: { configPath: string }[] = [];
    const runDaemon = async (opts: { configPath: string }) => {
      seen.push(opts);
      return 0;
    };
    expect((await cli(['run', '--config', '/etc/pb.json'], { runDaemon })).code).toBe(0);
    expect((await cli(['run'], { runDaemon: async () => 69 })).code).toBe(69);
    await cli(['run'], { runDaemon });
    expect(seen).toEqual([
      { configPath: '/etc/pb.json' },
      { configPath: '/etc/serviceradar/poller-bootstrap.json' },
    ]);
  });

  it('prints every config issue and exits 78 when the daemon rejects the config', async () => {
    const runDaemon = async (): Promise<number> => {
      throw new ConfigError('/etc/pb.json', [
        { key: 'trust_domain', message: 'trust_domain: expected a trust domain, got nothing' },
        { key: 'POLLER_BOOTSTRAP_SERVER_PORT', message: 'must be a port' },
      ]);
    };
    expect(await cli(['run', '-c', '/etc/pb.json'], { runDaemon })).toEqual({
      code: 78,
      stdout: '',
      stderr:
        'poller-bootstrap: invalid configuration /etc/pb.json:\n' +
        '  trust_domain: expected a trust domain, got nothing\n' +
        '  POLLER_BOOTSTRAP_SERVER_PORT: must be a port\n',
    });
  });

  it('reports an unexpected failure as internal (70) without the token', async () => {
    const runDaemon = async (): Promise<number> => {
      throw new Error('boom at spiffe://td/spire/agent/join_token/s3cr3t-token');
    };
    const { code, stderr } = await cli(['run'], { runDaemon });
    expect(code).toBe(70);
    expect(stderr).toMatch(
      /^poller-bootstrap run: internal error: boom at spiffe:\/\/td\/spire\/agent\/join_token\/[0-9a-f]{12}…\n$/,
    );
  });
});
