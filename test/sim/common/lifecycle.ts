import { atLeast } from './cli.js';
import type { Log } from './log.js';

/**
 * How `spire-agent run` / `spire-server run` end (cmd/…/cli/run/run.go): a run error is logged as
 * `Agent crashed` / `Server crashed` and exits 1. A SIGINT/SIGTERM cancels the run context; while the process
 * is still starting (attesting, waiting for upstream) that surfaces as the error "context canceled", which
 * releases before 1.15.3 report as a crash, and 1.15.3 (#7154) as a graceful stop.
 */
export class Lifecycle {
  #onStop: ((signal: string) => void) | undefined;
  readonly #who: 'Agent' | 'Server';

  constructor(
    program: 'spire-agent' | 'spire-server',
    private readonly log: Log,
  ) {
    this.#who = program === 'spire-agent' ? 'Agent' : 'Server';
    const handle = (signal: string) => () => (this.#onStop ? this.#onStop(signal) : this.#canceledAtStart());
    process.once('SIGTERM', handle('terminated'));
    process.once('SIGINT', handle('interrupt'));
  }

  /** Once running, a signal stops the process through `stop` (graceful shutdown). */
  running(stop: (signal: string) => void): void {
    this.#onStop = stop;
  }

  /** A fatal run error: the server first logs `Fatal run error` (server.go), then both log the crash. */
  crash(error: string, code = 1): never {
    if (this.#who === 'Server') this.log.error('Fatal run error', { error });
    this.log.error(`${this.#who} crashed`, { error });
    process.exit(code);
  }

  stopped(): never {
    this.log.info(`${this.#who} stopped gracefully`);
    process.exit(0);
  }

  #canceledAtStart(): void {
    if (!atLeast('1.15.3')) this.crash('context canceled');
    if (this.#who === 'Server') this.log.error('Fatal run error', { error: 'context canceled' });
    this.stopped();
  }
}

/**
 * pkg/common/cli/umask_posix.go SetUmask: both programs tighten the umask to at least 0027 before they create
 * anything, warning when the inherited one was looser.
 */
export function setUmask(log: Log): void {
  const minimum = 0o027;
  const current = process.umask(minimum);
  const next = current | minimum;
  if ((current & minimum) !== minimum) {
    const octal = (n: number) => `0${n.toString(8).padStart(3, '0')}`;
    log.warn(`Current umask ${octal(current)} is too permissive; setting umask ${octal(next)}`);
  }
  process.umask(next);
}
