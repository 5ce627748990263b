// `--target broker`: `poller-bootstrap broker` (DESIGN §9), the real process, in front of the SPIRE stub, its
// global throttle at R join tokens a second with a burst of `--burst` (broker-server.ts runs both in a process of
// its own). The pollers log in to it as they would to core (or share one bearer token with `--auth bearer`).
import { fileURLToPath } from 'node:url';
import { forkedTarget } from './forked.js';
import type { Target, TargetOptions } from './target.js';

const SERVER = fileURLToPath(new URL('./broker-server.js', import.meta.url));

export async function startBrokerTarget(options: TargetOptions): Promise<Target> {
  if (options.outageKind !== 'down') {
    throw new Error(
      '--target broker: the outage is a stop and start of the broker process (--outage-kind down); the broker ' +
        'answers 502 when SPIRE fails, which the daemon counts as a token that may have been minted',
    );
  }
  if (options.scope !== 'join-tokens') {
    throw new Error('--target broker: its global throttle counts join tokens only (--scope join-tokens)');
  }
  return forkedTarget('broker', SERVER, options);
}
