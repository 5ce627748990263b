// npm run demo: the simulated cluster SPIRE server and ServiceRadar admin API on loopback, then the real
// poller-bootstrap daemon taking the poller from nothing to ready against them. Everything lives in a temporary
// folder that is removed when the demo ends (Ctrl-C; or right after ready when not run from a terminal).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { adminStats, DAEMON, makeEnv, startDaemon, waitReady } from '../test/e2e/harness.js';
import { stopAll } from '../test/sim/launch.js';

const root = mkdtempSync(join(tmpdir(), 'poller-bootstrap-demo-'));
const say = (text: string) => process.stdout.write(`${text}\n`);

async function cleanup(): Promise<void> {
  await stopAll();
  rmSync(root, { recursive: true, force: true });
}

async function demo(): Promise<void> {
  say(`[1] simulated cluster spire-server and ServiceRadar core admin API (in ${root})`);
  const env = await makeEnv(root, (c) => {
    c.log_level = 'info';
  });
  say(`    spire-server 127.0.0.1:${env.server.port}, admin API ${env.admin.url}`);

  say(`[2] poller-bootstrap run --config ${env.configPath}`);
  const started = Date.now();
  const daemon = startDaemon(env);
  let shown = 0;
  const follow = setInterval(() => {
    for (; shown < daemon.lines.length; shown++) {
      const line = daemon.lines[shown] ?? '';
      const msg = /"msg":"(phase [^"]+|join token [^"]+|ready|entries reconciled[^"]*)"/.exec(line)?.[1];
      if (msg) say(`    ${msg}`);
    }
  }, 20);
  await waitReady(env, daemon);
  clearInterval(follow);
  say(
    `[3] ready in ${((Date.now() - started) / 1000).toFixed(1)} s; the admin API saw ${(await adminStats(env)).join_tokens_requested} token request`,
  );

  say('[4] poller-bootstrap status');
  const status = spawnSync(process.execPath, [DAEMON, 'status', '--url', env.httpUrl], { encoding: 'utf8' });
  say(status.stdout.trimEnd().replace(/^/gm, '    '));
  say(`\n    endpoints: ${env.httpUrl}/healthz  ${env.httpUrl}/readyz  ${env.httpUrl}/status`);
  const downstream = (env.config.downstream_agent as { socket_path: string }).socket_path;
  say(`    poller Workload API: ${downstream}`);

  if (!process.stdin.isTTY) return;
  say('\nPress Ctrl-C to stop the daemon and remove the demo folder.');
  await new Promise<void>((resolve) => process.once('SIGINT', resolve));
}

demo()
  .then(cleanup)
  .catch(async (err: Error) => {
    process.stderr.write(`demo failed: ${err.message}\n`);
    await cleanup();
    process.exit(1);
  });
