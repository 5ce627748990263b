import * as grpc from '@grpc/grpc-js';
import { callUnary, services } from '../../../src/spire/proto.js';
import { handleVersion, parseFlags } from '../common/cli.js';
import { recordEvent } from '../common/events.js';
import { createLog } from '../common/log.js';
import { type AgentConfig, ConfigError, loadAgentConfig, runBooleanFlags } from './config.js';
import { runAgent } from './run.js';

const RUN_FLAGS = [
  'config',
  'dataDir',
  'joinToken',
  'joinTokenFile',
  'logFile',
  'logFormat',
  'logLevel',
  'serverAddress',
  'serverPort',
  'trustDomain',
  'trustBundle',
  'trustBundleUrl',
  'trustBundleFormat',
  'rebootstrapMode',
  'rebootstrapDelay',
  'socketPath',
];

function fail(message: string, code = 1): never {
  process.stderr.write(`${message}\n`);
  process.exit(code);
}

function loadConfig(flags: Map<string, string>): AgentConfig {
  try {
    return loadAgentConfig(flags);
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

async function healthcheck(flags: Map<string, string>): Promise<void> {
  const socket = flags.get('socketPath') ?? '/tmp/spire-agent/public/api.sock';
  const client = new services.health(`unix:${socket}`, grpc.credentials.createInsecure());
  try {
    const res = await callUnary<{ status: string }>(
      client,
      'Check',
      {},
      { deadline: new Date(Date.now() + 5000) },
    );
    if (res.status !== 'SERVING') fail(`Agent is unhealthy: agent returned status "${res.status}"`);
    process.stdout.write('Agent is healthy.\n');
  } catch {
    fail('Agent is unhealthy: unable to determine health');
  } finally {
    client.close();
  }
}

async function main(argv: string[]): Promise<void> {
  handleVersion(argv);
  const [command, ...args] = argv;
  try {
    if (command === 'run') {
      recordEvent('spire-agent', 'start');
      return await runAgent(loadConfig(parseFlags(args, runBooleanFlags(), RUN_FLAGS).flags));
    }
    if (command === 'healthcheck')
      return await healthcheck(parseFlags(args, ['shallow', 'verbose'], ['socketPath']).flags);
  } catch (err) {
    fail((err as Error).message);
  }
  fail(
    'Usage: spire-agent [--version] <command> [<args>]\n\nAvailable commands are:\n    healthcheck\n    run',
    127,
  );
}

void main(process.argv.slice(2));
