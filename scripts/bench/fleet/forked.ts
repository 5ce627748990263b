// A target's server in a process of its own (so it does not share the pollers' event loop), driven over IPC:
// it says `ready` with its URL, then answers outage, view and stop commands (sim-server.ts, broker-server.ts).
import { fork } from 'node:child_process';
import type { ServerView } from './target.js';

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
