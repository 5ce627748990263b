// `--target broker`: `poller-bootstrap broker` (DESIGN §9), the real process, in front of the SPIRE stub, its
// global throttle at R join tokens a second with a burst of `--burst` (broker-server.ts runs both in a process of
// its own). The pollers log in to it as they would to core (or share one bearer token with `--auth bearer`).
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BrokerServerArgs } from './broker-server.js';
import { forkServer } from './forked.js';
import type { Target, TargetOptions } from './target.js';

const SERVER = fileURLToPath(new URL('./broker-server.js', import.meta.url));
const USERNAME = 'edge-bootstrap';

export async function startBrokerTarget(options: TargetOptions): Promise<Target> {
  if (options.outageKind !== 'down') {
    throw new Error(
      '--target broker: the outage is a stop and start of the broker process (--outage-kind down); the broker ' +
        'answers 502 when SPIRE fails, which the daemon counts as a token that may have been minted',
    );
  }
  if (options.scope !== 'join-tokens') {
    throw new Error('--target broker: its global throttle counts join tokens only (--scope join-tokens)');
  }
  const password = randomBytes(18).toString('base64url');
  const passwordFile = join(options.dir, 'admin-password');
  await writeFile(passwordFile, `${password}\n`, { mode: 0o600 });
  const args: BrokerServerArgs = {
    ...options,
    socket: join(options.dir, 'spire-api.sock'),
    username: USERNAME,
    passwordFile,
  };
  const server = await forkServer('fleet broker server', SERVER, args);
  const { url } = server;
  return {
    name: 'broker',
    url,
    username: USERNAME,
    passwordFile,
    async bearerFile() {
      const res = await fetch(`${url}/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: USERNAME, password }),
      });
      const { access_token: bearer } = (await res.json()) as { access_token: string };
      const path = join(options.dir, 'bearer');
      await writeFile(path, `${bearer}\n`, { mode: 0o600 });
      return path;
    },
    outage: (from, to) => server.outage(from, to),
    view: () => server.view(),
    close: () => server.close(),
  };
}
