import * as grpc from '@grpc/grpc-js';
import { callUnary, services } from '../../../src/spire/proto.js';
import { handleVersion, parseFlags } from '../common/cli.js';
import { recordEvent } from '../common/events.js';
import { createLog } from '../common/log.js';
import { toPem } from '../common/x509.js';
import { ConfigError, loadServerConfig, type ServerConfig } from './config.js';
import { runServer } from './run.js';

const usage =
  'Usage: spire-server [--version] <command> [<args>]\n\nAvailable commands are:\n    bundle show\n    healthcheck\n    run\n';

function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(1);
}

function loadConfig(flags: Map<string, string>): ServerConfig {
  const path = flags.get('config') ?? 'conf/server/server.conf';
  try {
    const config = loadServerConfig(path);
    if (flags.has('serverPort')) config.bindPort = Number(flags.get('serverPort'));
    if (flags.has('socketPath')) config.socketPath = flags.get('socketPath') as string;
    return config;
  } catch (err) {
    if (err instanceof ConfigError && err.unknown) {
      createLog(undefined, undefined).error('Unknown configuration detected', {
        keys: err.unknown.keys.join(','),
        section: err.unknown.section,
      });
    }
    return fail((err as Error).message);
  }
}

async function bundleShow(flags: Map<string, string>): Promise<void> {
  const socket = flags.get('socketPath') ?? '/tmp/spire-server/private/api.sock';
  const client = new services.bundle(`unix:${socket}`, grpc.credentials.createInsecure());
  try {
    const b = await callUnary<{ x509_authorities: { asn1: Buffer }[] }>(client, 'GetBundle', {});
    process.stdout.write(b.x509_authorities.map((a) => toPem(a.asn1)).join(''));
  } catch (err) {
    fail(`Error: ${(err as grpc.ServiceError).details ?? (err as Error).message}`);
  } finally {
    client.close();
  }
}

async function healthcheck(flags: Map<string, string>): Promise<void> {
  const socket = flags.get('socketPath') ?? '/tmp/spire-server/private/api.sock';
  const client = new services.health(`unix:${socket}`, grpc.credentials.createInsecure());
  try {
    const res = await callUnary<{ status: string }>(
      client,
      'Check',
      {},
      { deadline: new Date(Date.now() + 5000) },
    );
    if (res.status !== 'SERVING') fail(`Error: server is unhealthy: server returned status "${res.status}"`);
    process.stdout.write('Server is healthy.\n');
  } catch {
    fail('Error: server is unhealthy: unable to determine health');
  } finally {
    client.close();
  }
}

async function main(argv: string[]): Promise<void> {
  handleVersion(argv);
  const [command, ...args] = argv;
  try {
    if (command === 'run') {
      const { flags } = parseFlags(
        args,
        ['expandEnv', 'logSourceLocation'],
        [
          'config',
          'bindAddress',
          'serverPort',
          'dataDir',
          'logFile',
          'logFormat',
          'logLevel',
          'trustDomain',
          'socketPath',
        ],
      );
      recordEvent('spire-server', 'start');
      return await runServer(loadConfig(flags));
    }
    if (command === 'healthcheck') {
      return await healthcheck(parseFlags(args, ['shallow', 'verbose'], ['socketPath']).flags);
    }
    if (command === 'bundle' && args[0] === 'show') {
      return await bundleShow(parseFlags(args.slice(1), [], ['socketPath', 'format']).flags);
    }
  } catch (err) {
    fail((err as Error).message);
  }
  process.stderr.write(usage);
  process.exit(127);
}

void main(process.argv.slice(2));
