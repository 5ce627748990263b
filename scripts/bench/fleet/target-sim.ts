// `--target sim`: the simulated admin API (test/sim/admin) in a process of its own, throttled by its token bucket
// knobs, in front of the SPIRE stub.
import { type ChildProcess, fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SimCommand, SimMessage, SimServerArgs } from './sim-server.js';
import type { Target, TargetOptions } from './target.js';

const SERVER = fileURLToPath(new URL('./sim-server.js', import.meta.url));
const USERNAME = 'edge-bootstrap';

type Body<T> = T extends unknown ? Omit<T, 'id'> : never;

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
  const child: ChildProcess = fork(SERVER, [JSON.stringify(args)], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = new Promise<never>((_, reject) =>
    child.once('exit', (code, signal) => reject(new Error(`fleet sim server exited (${code ?? signal})`))),
  );
  exited.catch(() => undefined);
  const url = await Promise.race([
    new Promise<string>((resolve) =>
      child.on('message', (m: SimMessage) => {
        if (m.type === 'ready') resolve(m.url);
      }),
    ),
    exited,
  ]);
  let next = 0;
  const ask = (body: Body<SimCommand>) =>
    Promise.race([
      new Promise<Extract<SimMessage, { type: 'done' }>>((resolve, reject) => {
        const id = ++next;
        const onMessage = (m: SimMessage) => {
          if (m.type !== 'done' || m.id !== id) return;
          child.off('message', onMessage);
          if (m.error) reject(new Error(m.error));
          else resolve(m);
        };
        child.on('message', onMessage);
        child.send({ ...body, id } as SimCommand);
      }),
      exited,
    ]);

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
    async outage(from, to) {
      const { outage } = await ask({ type: 'outage', from, to });
      if (!outage) throw new Error('fleet sim server: no outage times');
      return outage;
    },
    view: async () => (await ask({ type: 'view' })).view ?? null,
    async close() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      await ask({ type: 'stop' }).catch(() => undefined);
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await gone;
      clearTimeout(timer);
    },
  };
}
