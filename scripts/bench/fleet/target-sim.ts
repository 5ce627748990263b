// `--target sim`: the simulated admin API (test/sim/admin) in a process of its own, throttled by its token bucket
// knobs, in front of the SPIRE stub.
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { forkServer } from './forked.js';
import type { SimServerArgs } from './sim-server.js';
import type { Target, TargetOptions } from './target.js';

const SERVER = fileURLToPath(new URL('./sim-server.js', import.meta.url));
const USERNAME = 'edge-bootstrap';

export async function startSimTarget(options: TargetOptions): Promise<Target> {
  const password = randomBytes(18).toString('base64url');
  const passwordFile = join(options.dir, 'admin-password');
  await writeFile(passwordFile, `${password}\n`, { mode: 0o600 });
  const args: SimServerArgs = {
    ...options,
    socket: join(options.dir, 'spire-api.sock'),
    username: USERNAME,
    password,
  };
  const server = await forkServer('fleet sim server', SERVER, args);
  const { url } = server;
  return {
    name: 'sim',
    url,
    username: USERNAME,
    passwordFile,
    async bearerFile() {
      const res = await fetch(`${url}/auth/login`, {
        method: 'POST',
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
