// `poller-bootstrap doctor`: checks a host before and after enrolment — binaries and their release, directories,
// the token file, the identities, the admin API, the SPIRE server's TLS, the ports, the clock, the trust
// bundle — one row each with its fix; exits 1 when any check fails.
import { parseArgs } from 'node:util';
import { DEFAULT_CONFIG_PATH } from '../config/defaults.js';
import { pathLayout } from '../config/layout.js';
import { loadConfig } from '../config/load.js';
import { checkBinaries } from '../doctor/binaries.js';
import { type CheckResult, guarded } from '../doctor/check.js';
import { checkDirectories, checkIdentities, checkTokenFile, checkTrustBundle } from '../doctor/files.js';
import { checkAdminApi, checkPorts, checkSpireServer } from '../doctor/network.js';
import { type CliIo, EXIT } from './io.js';

/** Every check, in the order an operator would fix them. */
export async function runChecks(configPath: string | undefined, io: CliIo): Promise<CheckResult[]> {
  const config = await loadConfig(configPath ?? DEFAULT_CONFIG_PATH, {
    env: io.env,
    optional: configPath === undefined,
  });
  const layout = pathLayout(config);
  const now = Date.now;
  const steps: [string, () => Promise<CheckResult[]>, string][] = [
    [
      'spire binaries',
      () => checkBinaries(config),
      'install SPIRE under /opt/spire/bin, or set spire.*_path',
    ],
    ['directories', () => checkDirectories(layout), 'check state_dir and run_dir'],
    ['token.file', () => checkTokenFile(config, now()), `check ${config.token.file}`],
    ['identity', () => checkIdentities(config, layout, now()), `check ${config.stateDir}`],
    [
      'upstream.trust_bundle_path',
      () => checkTrustBundle(config, now()),
      "put the server's bundle (PEM) there",
    ],
    [
      'upstream.server_address',
      () => checkSpireServer(config),
      'check the SPIRE server address and the network',
    ],
    ['admin_api', () => checkAdminApi(config, now), 'check admin_api.url and the credential files'],
    ['ports', () => checkPorts(config), 'free the ports, or set other ones'],
  ];
  const out: CheckResult[] = [];
  for (const [name, run, fix] of steps) out.push(...(await guarded(name, run, fix)));
  return out;
}

function table(results: readonly CheckResult[]): string {
  const width = Math.max(...results.map((r) => r.check.length));
  return results
    .map((r) => {
      const line = `${r.status.padEnd(4)}  ${r.check.padEnd(width)}  ${r.detail}`;
      return r.fix ? `${line}\n${' '.repeat(width + 8)}fix: ${r.fix}` : line;
    })
    .join('\n');
}

/** Runs `doctor`: 0 when nothing failed (warnings allowed), 1 otherwise. */
export async function doctorCommand(args: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { config: { type: 'string', short: 'c' }, json: { type: 'boolean' } },
    strict: true,
    allowPositionals: false,
  });
  const results = await runChecks(values.config, io);
  const failed = results.filter((r) => r.status === 'fail').length;
  if (values.json) io.stdout(`${JSON.stringify({ ok: failed === 0, checks: results }, null, 2)}\n`);
  else io.stdout(`${table(results)}\n${failed === 0 ? 'no problem found' : `${failed} check(s) failed`}\n`);
  return failed === 0 ? EXIT.ok : 1;
}
