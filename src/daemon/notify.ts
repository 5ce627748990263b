// systemd readiness (Type=notify): READY=1, STATUS=…, STOPPING=1 and WATCHDOG=1 pings.
//
// How a message leaves the process, in order of preference:
// - in process, through the sd-notify addon (notify-socket.ts) that the single executable embeds: the datagram
//   comes from the daemon's own PID, so the unit can say NotifyAccess=main and the SPIRE children cannot change
//   the service's state;
// - otherwise (run from a checkout, or the addon could not be loaded) systemd-notify(1), a child process, which
//   needs NotifyAccess=all; `--pid` names the daemon as the main PID and systemd-notify waits until the manager
//   has processed the message (systemd >= 246), so the short-lived sender is still attributed to the unit.

import { execa } from 'execa';
import { maskJoinTokenIds } from '../observability/status.js';
import { loadEmbeddedAddon } from './notify-socket.js';

/** Runs a command; resolves when it exits 0 and rejects otherwise (execa's contract). */
export type NotifyExec = (
  file: string,
  args: readonly string[],
  options: { readonly env: Record<string, string>; readonly timeoutMs: number },
) => Promise<unknown>;

/** Sends one datagram to the socket path from this process; returns 0 or an errno. */
export type DatagramSend = (socketPath: string, message: string) => number;

/** The slice of a pino logger this module uses. */
export interface NotifyLogger {
  warn(obj: object, msg: string): void;
  info?(obj: object, msg: string): void;
}

export interface NotifierOptions {
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** The daemon's PID, sent as MAINPID; defaults to process.pid. */
  readonly pid?: number;
  readonly exec?: NotifyExec;
  readonly log?: NotifyLogger;
  /** The systemd-notify binary; found on PATH by default. */
  readonly command?: string;
  /** In-process sender; by default the embedded addon, null forces systemd-notify. */
  readonly datagram?: DatagramSend | null;
}

export interface Notifier {
  /** False when $NOTIFY_SOCKET is unset: every call is then a no-op. */
  readonly enabled: boolean;
  ready(status?: string): Promise<void>;
  status(status: string): Promise<void>;
  stopping(status?: string): Promise<void>;
}

/** The notifier createNotifier returns: also a STATUS= line per bootstrap phase, and an end to the pings. */
export interface SystemdNotifier extends Notifier {
  /** How messages are sent: 'datagram' (in process), 'systemd-notify', or 'none' without $NOTIFY_SOCKET. */
  readonly transport: 'datagram' | 'systemd-notify' | 'none';
  /** The watchdog ping period, null when WatchdogSec= is not set for this process. */
  readonly watchdogMs: number | null;
  /** STATUS=<what the phase means>, for `systemctl status`. */
  phase(phase: string): Promise<void>;
  /** Stops the watchdog pings (tests; a daemon pings until it exits). */
  close(): void;
}

export type NotifyMessage = {
  readonly ready?: boolean;
  readonly stopping?: boolean;
  readonly watchdog?: boolean;
  readonly status?: string;
};

const TIMEOUT_MS = 5_000;

// STATUS= is one line and shows in `systemctl status`; keep it short and free of secrets.
function statusText(status: string): string {
  return maskJoinTokenIds(status.replace(/[\r\n]+/g, ' ')).slice(0, 200);
}

const PHASE_STATUS: Record<string, string> = {
  init: 'starting',
  'inspect-identity': "reading the upstream agent's identity from disk",
  'acquire-token': 'acquiring a join token',
  'write-token': 'writing the join token for the upstream agent',
  'start-upstream-agent': 'starting the upstream agent (attestation)',
  'consume-token': 'deleting the used join token',
  'start-nested-server': 'starting the nested SPIRE server',
  'register-entries': 'registering entries on the nested server',
  'start-downstream-agent': 'starting the downstream agent',
  backoff: 'waiting to retry; see `poller-bootstrap status`',
  ready: 'ready',
  degraded: 'degraded: a SPIRE child is restarting; identity still valid',
  stopping: 'stopping',
  stopped: 'stopped',
};

/** The STATUS= text for a bootstrap phase. */
export function phaseStatus(phase: string): string {
  return PHASE_STATUS[phase] ?? phase;
}

/** The systemd-notify argv for a message; STOPPING=1 is a plain assignment because --stopping needs systemd 253. */
export function notifyArgs(message: NotifyMessage, pid: number): string[] {
  const args = [`--pid=${pid}`];
  if (message.ready) args.push('--ready');
  if (message.status !== undefined) args.push(`--status=${statusText(message.status)}`);
  if (message.stopping) args.push('STOPPING=1');
  if (message.watchdog) args.push('WATCHDOG=1');
  return args;
}

/** The sd_notify(3) datagram for a message: newline-separated assignments. */
export function notifyDatagram(message: NotifyMessage): string {
  const lines: string[] = [];
  if (message.ready) lines.push('READY=1');
  if (message.stopping) lines.push('STOPPING=1');
  if (message.watchdog) lines.push('WATCHDOG=1');
  if (message.status !== undefined) lines.push(`STATUS=${statusText(message.status)}`);
  return lines.join('\n');
}

/** Half of WatchdogSec= (sd_watchdog_enabled(3)): null unless WATCHDOG_USEC is set for this PID. */
export function watchdogInterval(
  env: Readonly<Record<string, string | undefined>>,
  pid: number,
): number | null {
  const usec = Number(env.WATCHDOG_USEC);
  if (!env.WATCHDOG_USEC || !Number.isSafeInteger(usec) || usec <= 0) return null;
  if (env.WATCHDOG_PID && Number(env.WATCHDOG_PID) !== pid) return null;
  return Math.max(1, Math.floor(usec / 2000));
}

const defaultExec: NotifyExec = async (file, args, options) => {
  await execa(file, [...args], {
    env: options.env,
    extendEnv: false,
    timeout: options.timeoutMs,
    stdin: 'ignore',
  });
};

function defaultDatagram(log: NotifyLogger | undefined): DatagramSend | null {
  const loaded = loadEmbeddedAddon();
  if (loaded.addon) return loaded.addon.send;
  log?.info?.(
    { reason: loaded.reason },
    'systemd notifications go through systemd-notify, which needs NotifyAccess=all in the unit',
  );
  return null;
}

/** Creates the notifier; it never throws: a failed notification is logged and the daemon carries on. */
export function createNotifier(options: NotifierOptions = {}): SystemdNotifier {
  const env = options.env ?? process.env;
  const socket = env.NOTIFY_SOCKET;
  const pid = options.pid ?? process.pid;
  const exec = options.exec ?? defaultExec;
  const command = options.command ?? 'systemd-notify';
  const datagram = !socket
    ? null
    : options.datagram === undefined
      ? defaultDatagram(options.log)
      : options.datagram;
  // The child gets only what it needs: no daemon secrets leak into its environment.
  const childEnv: Record<string, string> = { NOTIFY_SOCKET: socket ?? '' };
  if (env.PATH !== undefined) childEnv.PATH = env.PATH;

  const viaCommand = async (message: NotifyMessage): Promise<void> => {
    const args = notifyArgs(message, pid);
    try {
      await exec(command, args, { env: childEnv, timeoutMs: TIMEOUT_MS });
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      options.log?.warn({ command, args, err: reason }, 'systemd notification failed');
    }
  };
  const viaDatagram = async (send: DatagramSend, message: NotifyMessage): Promise<void> => {
    const text = notifyDatagram(message);
    const errno = send(socket as string, text);
    if (errno !== 0) options.log?.warn({ socket, message: text, errno }, 'systemd notification failed');
  };
  const send = (message: NotifyMessage): Promise<void> => {
    if (!socket) return Promise.resolve();
    return datagram ? viaDatagram(datagram, message) : viaCommand(message);
  };

  const watchdogMs = socket ? watchdogInterval(env, pid) : null;
  const pings = watchdogMs === null ? null : setInterval(() => void send({ watchdog: true }), watchdogMs);
  // The pings prove the event loop runs; they must not keep a finished daemon alive.
  pings?.unref();
  if (pings) void send({ watchdog: true });

  return {
    enabled: Boolean(socket),
    transport: !socket ? 'none' : datagram ? 'datagram' : 'systemd-notify',
    watchdogMs,
    ready: (status) => send({ ready: true, ...(status === undefined ? {} : { status }) }),
    status: (status) => send({ status }),
    phase: (phase) => send({ status: phaseStatus(phase) }),
    stopping: (status) => send({ stopping: true, ...(status === undefined ? {} : { status }) }),
    close: () => {
      if (pings) clearInterval(pings);
    },
  };
}
