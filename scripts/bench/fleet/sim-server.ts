// The `sim` target's own process (forked by target-sim.ts, so the server does not share the pollers' event loop):
// the SPIRE stub and the simulated admin API with its token-bucket knobs, recording every answer it gives.
// Commands arrive over the IPC channel: outage on/off, view, stop.
import { readFile } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseAdminConfig } from '../../../test/sim/admin/config.js';
import { type AdminApi, startAdminApi } from '../../../test/sim/admin/server.js';
import { Faults, Stats } from '../../../test/sim/common/faults.js';
import { announceReady, type ServerLogin, serveCommands } from './forked.js';
import { startSpireStub } from './spire-stub.js';
import type { Answer, ServerView, TargetOptions } from './target.js';

export type SimServerArgs = TargetOptions & ServerLogin;

/** /_sim/stats, with the time of every answer: `<route>_<status>` is counted once per request answered. */
class TimedStats extends Stats {
  readonly answers: Answer[] = [];
  override inc(name: string): void {
    super.inc(name);
    const m = /^(login|refresh|join_tokens|other)_(\d{3})$/.exec(name);
    if (m) this.answers.push([Date.now(), m[1] as string, Number(m[2])]);
  }
}

const until = (at: number) => sleep(Math.max(0, at - Date.now()));

async function main(): Promise<void> {
  const args = JSON.parse(process.argv[2] ?? '{}') as SimServerArgs;
  const stub = await startSpireStub(args.socket);
  const faults = new Faults('');
  faults.update({ throttleRate: args.rate, throttleBurst: args.burst, throttleScope: args.scope });
  const stats = new TimedStats();
  const config = parseAdminConfig({
    users: [
      {
        username: args.username,
        password: (await readFile(args.passwordFile, 'utf8')).trim(),
        roles: ['admin'],
      },
    ],
  });
  const quiet = new Writable({ write: (_c, _e, done) => done() });
  let port = 0;
  const start = async () => {
    const api = await startAdminApi({
      config,
      spireSocket: args.socket,
      trustDomain: args.trustDomain,
      port,
      faults,
      stats,
      out: quiet,
    });
    port = Number(new URL(api.url).port);
    return api;
  };
  let api: AdminApi | undefined = await start();
  const url = api.url;

  const toggle = async (on: boolean) => {
    if (args.outageKind === '503') {
      const retryAfterSeconds = args.outageRetryAfterSeconds;
      faults.update(
        on ? { failNext: Number.MAX_SAFE_INTEGER, failStatus: 503, retryAfterSeconds } : { failNext: 0 },
      );
    } else if (on) {
      await api?.close();
      api = undefined;
    } else {
      // A new process: core's login sessions do not survive it (the simulator signs them with a fresh secret).
      api ??= await start();
    }
  };
  // Timed here, not by the pollers' process: a thousand pollers starting at once delay its timers by seconds.
  const outage = async (from: number, to: number) => {
    await until(from);
    await toggle(true);
    const began = Date.now();
    await until(to);
    await toggle(false);
    return { from: began, to: Date.now() };
  };
  serveCommands(async (command) => {
    if (command.type === 'outage') return { outage: await outage(command.from, command.to) };
    if (command.type === 'view') {
      const view: ServerView = {
        answers: stats.answers,
        minted: Object.fromEntries(stub.minted),
        stats: stats.snapshot(),
      };
      return { view };
    }
    await api?.close();
    await stub.close();
    setImmediate(() => process.disconnect());
    return {};
  });
  announceReady(url);
}

main().catch((err: Error) => {
  process.stderr.write(`fleet sim server: ${err.stack ?? err.message}\n`);
  process.exit(70);
});
