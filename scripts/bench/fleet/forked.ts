// A target's server in a process of its own (so it does not share the pollers' event loop), driven over IPC:
// it says `ready` with its URL, then answers outage, view and stop commands (sim-server.ts, broker-server.ts).
import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ServerView, Target, TargetOptions } from './target.js';

export type ServerCommand = { id: number } & (
  | { type: 'outage'; from: number; to: number }
  | { type: 'view' }
  | { type: 'stop' }
);
export type ServerMessage =
  | { type: 'ready'; url: string }
  | { type: 'done'; id: number; view?: ServerView; outage?: { from: number; to: number }; error?: string };

type Body<T> = T extends unknown ? Omit<T, 'id'> : never;
type Done = Omit<Extract<ServerMessage, { type: 'done' }>, 'type' | 'id'>;

export interface ForkedServer {
  readonly url: string;
  outage(from: number, to: number): Promise<{ from: number; to: number }>;
  view(): Promise<ServerView | null>;
  close(): Promise<void>;
}

/** Forks `script` with `args` as its one JSON argument; resolves once it is ready. */
export async function forkServer(name: string, script: string, args: object): Promise<ForkedServer> {
  const child = fork(script, [JSON.stringify(args)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const exited = new Promise<never>((_, reject) =>
    child.once('exit', (code, signal) => reject(new Error(`${name} exited (${code ?? signal})`))),
  );
  exited.catch(() => undefined);
  const url = await Promise.race([
    new Promise<string>((resolve) =>
      child.on('message', (m: ServerMessage) => {
        if (m.type === 'ready') resolve(m.url);
      }),
    ),
    exited,
  ]);
  let next = 0;
  const ask = (body: Body<ServerCommand>) =>
    Promise.race([
      new Promise<Extract<ServerMessage, { type: 'done' }>>((resolve, reject) => {
        const id = ++next;
        const onMessage = (m: ServerMessage) => {
          if (m.type !== 'done' || m.id !== id) return;
          child.off('message', onMessage);
          if (m.error) reject(new Error(m.error));
          else resolve(m);
        };
        child.on('message', onMessage);
        child.send({ ...body, id } as ServerCommand);
      }),
      exited,
    ]);
  return {
    url,
    async outage(from, to) {
      const { outage } = await ask({ type: 'outage', from, to });
      if (!outage) throw new Error(`${name}: no outage times`);
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

/** The server side: answers each command with `run`'s result, or its error. */
export function serveCommands(run: (command: ServerCommand) => Promise<Done>): void {
  const send = (message: ServerMessage) => process.send?.(message);
  process.on('message', (command: ServerCommand) => {
    run(command).then(
      (result) => send({ type: 'done', id: command.id, ...result }),
      (err: Error) => send({ type: 'done', id: command.id, error: err.message }),
    );
  });
}

export const announceReady = (url: string): void => {
  process.send?.({ type: 'ready', url } satisfies ServerMessage);
};

/** What both targets' server processes are given: the stub's socket and a login whose password is in a file. */
export interface ServerLogin {
  socket: string;
  username: string;
  /** The 0600 file holding the password; read by the server, never passed in argv. */
  passwordFile: string;
}

/**
 * A target whose server runs in `script` (a process of its own): a fresh admin login (its password in a 0600
 * file), the SPIRE stub's socket, and a bearer from one login for `--auth bearer`.
 */
export async function forkedTarget(
  name: Target['name'],
  script: string,
  options: TargetOptions,
): Promise<Target> {
  const username = 'edge-bootstrap';
  const password = randomBytes(18).toString('base64url');
  const passwordFile = join(options.dir, 'admin-password');
  await writeFile(passwordFile, `${password}\n`, { mode: 0o600 });
  const login: ServerLogin = { socket: join(options.dir, 'spire-api.sock'), username, passwordFile };
  const server = await forkServer(`fleet ${name} server`, script, { ...options, ...login });
  const { url } = server;
  return {
    name,
    url,
    username,
    passwordFile,
    async bearerFile() {
      const res = await fetch(`${url}/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username, password }),
      });
      if (!res.ok)
        throw new Error(`fleet ${name} server: login for the shared bearer answered ${res.status}`);
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
