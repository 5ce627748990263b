import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parseAdminConfig } from './config.js';
import { isLoopback, startAdminApi } from './server.js';

// serviceradar-core (simulated): `--listen 127.0.0.1:PORT --config FILE --spire-socket PATH --trust-domain TD`.

const USAGE =
  'usage: serviceradar-core --listen 127.0.0.1:PORT --config FILE --spire-socket PATH --trust-domain TD';

/** Splits `host:port` / `[::1]:port`; throws a message naming the flag. */
function parseListen(value: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(value);
  const host = match?.[1] ?? match?.[2];
  const port = Number(match?.[3]);
  if (!host || !(port >= 0 && port <= 65535)) {
    throw new Error(`Expected \`--listen\` to be HOST:PORT, got ${JSON.stringify(value)}`);
  }
  if (!isLoopback(host))
    throw new Error(`Expected \`--listen\` to be a loopback address, got ${JSON.stringify(host)}`);
  return { host, port };
}

function fail(message: string): never {
  process.stderr.write(`${message}\n${USAGE}\n`);
  process.exit(64);
}

async function main(): Promise<void> {
  let values: Record<string, string | undefined>;
  try {
    ({ values } = parseArgs({
      options: {
        listen: { type: 'string' },
        config: { type: 'string' },
        'spire-socket': { type: 'string' },
        'trust-domain': { type: 'string' },
      },
      strict: true,
    }));
  } catch (err) {
    fail((err as Error).message);
  }
  const missing = ['listen', 'config', 'spire-socket', 'trust-domain'].filter((k) => !values[k]);
  if (missing.length > 0) fail(`missing ${missing.map((k) => `--${k}`).join(', ')}`);
  let listen: { host: string; port: number };
  let config: ReturnType<typeof parseAdminConfig>;
  try {
    listen = parseListen(values.listen as string);
  } catch (err) {
    fail((err as Error).message);
  }
  try {
    config = parseAdminConfig(JSON.parse(readFileSync(values.config as string, 'utf8')));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exit(78);
  }
  const api = await startAdminApi({
    config,
    host: listen.host,
    port: listen.port,
    spireSocket: values['spire-socket'] as string,
    trustDomain: values['trust-domain'] as string,
    onCrash: () => process.exit(2),
  });
  const stop = () => {
    api.close().then(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((err: Error) => {
  process.stderr.write(`${err.message}\n`);
  process.exit(70);
});
