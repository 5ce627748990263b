// systemd readiness (Type=notify): READY=1, STATUS=…, STOPPING=1 through systemd-notify(1).
//
// Node has no unix datagram sockets, so the message is sent by `systemd-notify`, a child process. systemd only
// accepts messages from processes other than the main one with NotifyAccess=all in the unit, and `--pid` names
// the daemon as the main PID. systemd-notify waits until the manager has processed the message (systemd >= 246),
// so the short-lived sender is still attributed to the unit.

import { execa } from 'execa';
import { maskJoinTokenIds } from '../observability/status.js';

/** Runs a command; resolves when it exits 0 and rejects otherwise (execa's contract). */
export type NotifyExec = (
  file: string,
  args: readonly string[],
  options: { readonly env: Record<string, string>; readonly timeoutMs: number },
) => Promise<unknown>;

/** The slice of a pino logger this module uses. */
export interface NotifyLogger {
  warn(obj: object, msg: string): void;
}

export interface NotifierOptions {
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** The daemon's PID, sent as MAINPID; defaults to process.pid. */
  readonly pid?: number;
  readonly exec?: NotifyExec;
  readonly log?: NotifyLogger;
  /** The systemd-notify binary; found on PATH by default. */
  readonly command?: string;
}

export interface Notifier {
  /** False when $NOTIFY_SOCKET is unset: every call is then a no-op. */
  readonly enabled: boolean;
  ready(status?: string): Promise<void>;
  status(status: string): Promise<void>;
  stopping(status?: string): Promise<void>;
}

export type NotifyMessage = {
  readonly ready?: boolean;
  readonly stopping?: boolean;
  readonly status?: string;
};

const TIMEOUT_MS = 5_000;

// STATUS= is one line and shows in `systemctl status`; keep it short and free of secrets.
function statusText(status: string): string {
  return maskJoinTokenIds(status.replace(/[\r\n]+/g, ' ')).slice(0, 200);
}

/** The systemd-notify argv for a message; STOPPING=1 is a plain assignment because --stopping needs systemd 253. */
export function notifyArgs(message: NotifyMessage, pid: number): string[] {
  const args = [`--pid=${pid}`];
  if (message.ready) args.push('--ready');
  if (message.status !== undefined) args.push(`--status=${statusText(message.status)}`);
  if (message.stopping) args.push('STOPPING=1');
  return args;
}

const defaultExec: NotifyExec = async (file, args, options) => {
  await execa(file, [...args], {
    env: options.env,
    extendEnv: false,
    timeout: options.timeoutMs,
    stdin: 'ignore',
  });
};

/** Creates the notifier; it never throws: a failed notification is logged and the daemon carries on. */
export function createNotifier(options: NotifierOptions = {}): Notifier {
  const env = options.env ?? process.env;
  const socket = env.NOTIFY_SOCKET;
  const pid = options.pid ?? process.pid;
  const exec = options.exec ?? defaultExec;
  const command = options.command ?? 'systemd-notify';
  // The child gets only what it needs: no daemon secrets leak into its environment.
  const childEnv: Record<string, string> = { NOTIFY_SOCKET: socket ?? '' };
  if (env.PATH !== undefined) childEnv.PATH = env.PATH;

  const send = async (message: NotifyMessage): Promise<void> => {
    if (!socket) return;
    const args = notifyArgs(message, pid);
    try {
      await exec(command, args, { env: childEnv, timeoutMs: TIMEOUT_MS });
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      options.log?.warn({ command, args, err: reason }, 'systemd notification failed');
    }
  };
  return {
    enabled: Boolean(socket),
    ready: (status) => send({ ready: true, ...(status === undefined ? {} : { status }) }),
    status: (status) => send({ status }),
    stopping: (status) => send({ stopping: true, ...(status === undefined ? {} : { status }) }),
  };
}
