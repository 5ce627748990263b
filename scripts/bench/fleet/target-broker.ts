// `--target broker`: `poller-bootstrap broker` (DESIGN §9) in front of a SPIRE server, its global throttle set to
// R a second. The broker is built on another branch and is not in this tree yet; wiring it needs: its config with
// `rate_limit.global_per_minute = 60·R` and a per-caller limit above the fleet's need (all pollers share one
// login here), a users file with the hashed password (`src/broker/hash.ts`), its JWT key, a SPIRE admin socket
// (spire-stub.ts serves one), the outage as a stop and restart of the process, and a ServerView from its
// /metrics or audit file (test/e2e/broker-harness.ts on that branch starts it the same way).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Target, TargetOptions } from './target.js';

const BROKER_CLI = fileURLToPath(new URL('../../../src/cli/broker.js', import.meta.url));

export async function startBrokerTarget(_options: TargetOptions): Promise<Target> {
  const why = existsSync(BROKER_CLI)
    ? 'the broker is in this tree but scripts/bench/fleet/target-broker.ts does not start it yet'
    : '`poller-bootstrap broker` is not in this tree yet (it is built on branch broker)';
  throw new Error(
    `--target broker: ${why}; see the comment at the top of scripts/bench/fleet/target-broker.ts`,
  );
}
