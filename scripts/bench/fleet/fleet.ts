// A fleet of simulated pollers, each configured as the daemon would be (the config loader's defaults, its token
// sources built by the daemon's own buildTokenSources) and aimed at the server under test.
import { join } from 'node:path';
import { parseConfig } from '../../../src/config/load.js';
import type { Config } from '../../../src/config/types.js';
import type { MachinePolicy } from '../../../src/daemon/machine.js';
import { machinePolicy } from '../../../src/daemon/policy.js';
import { buildTokenSources } from '../../../src/daemon/token-sources.js';
import { Poller } from './poller.js';
import { seededRandom } from './poller-deps.js';
import type { Target } from './target.js';

export interface FleetOptions {
  count: number;
  seed: number;
  target: Target;
  /** login: each poller logs in (DESIGN §7's flow with RBAC); bearer: all share one bearer file. */
  auth: 'login' | 'bearer';
  dir: string;
  trustDomain: string;
}

export interface Fleet {
  readonly pollers: Poller[];
  readonly policy: MachinePolicy;
  readonly config: Config;
  /** Starts every poller in the same tick: the fleet asks at once. */
  start(): void;
  /** Settles once every poller is ready. */
  readonly ready: Promise<void>;
  stop(): Promise<void>;
}

/** The config file a poller of the fleet would have: its own downstream ID, the admin API as its only source. */
function pollerConfig(i: number, options: FleetOptions, bearerFile: string | undefined): Config {
  const { target, trustDomain, dir } = options;
  const credential = bearerFile
    ? { bearer_token_file: bearerFile }
    : { username: target.username, password_file: target.passwordFile };
  const name = `poller-${String(i).padStart(5, '0')}`;
  return parseConfig({
    trust_domain: trustDomain,
    state_dir: join(dir, name, 'state'),
    run_dir: join(dir, name, 'run'),
    upstream: { server_address: '127.0.0.1', trust_bundle_path: join(dir, 'bundle.pem') },
    admin_api: { url: target.url, allow_http: true, ...credential },
    token: { sources: ['admin-api'] },
    downstream: { spiffe_id: `spiffe://${trustDomain}/ns/${name}/poller-nested-spire` },
    spire: { version: '1.13.3' },
  });
}

export async function buildFleet(options: FleetOptions): Promise<Fleet> {
  const bearerFile = options.auth === 'bearer' ? await options.target.bearerFile() : undefined;
  const pollers: Poller[] = [];
  const closers: (() => void)[] = [];
  let left = options.count;
  let resolveReady!: () => void;
  const ready = new Promise<void>((resolve) => {
    resolveReady = resolve;
  });
  let first: Config | undefined;
  for (let i = 0; i < options.count; i++) {
    const config = pollerConfig(i, options, bearerFile);
    first ??= config;
    const built = await buildTokenSources(config, {});
    closers.push(built.close);
    pollers.push(
      new Poller({
        index: i,
        policy: machinePolicy(config),
        sources: built.sources['upstream-agent'],
        random: seededRandom(options.seed, i),
        now: Date.now,
        onReady: () => {
          if (--left === 0) resolveReady();
        },
      }),
    );
  }
  if (!first) throw new Error('a fleet needs at least one poller');
  return {
    pollers,
    policy: machinePolicy(first),
    config: first,
    ready,
    start() {
      for (const p of pollers) p.start();
    },
    async stop() {
      for (const p of pollers) p.stop();
      for (const close of closers) close();
    },
  };
}
