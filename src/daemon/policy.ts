// The machine's policy, derived once per configuration: limits, backoffs, readiness deadlines, and what each
// child waits for while it starts (so a missed deadline can say so).
import type { Config } from '../config/types.js';
import { nestedServerHost } from '../spire/render-agent.js';
import type { MachinePolicy } from './machine-types.js';

export function machinePolicy(config: Config): MachinePolicy {
  const s = config.supervision;
  const { serverAddress, serverPort } = config.upstream;
  return {
    maxTokensPerHour: config.token.maxPerHour,
    tokenRetry: { ...s.tokenRetry },
    restart: { ...s.restart },
    restartResetAfterMs: s.restartResetAfterMs,
    readyTimeoutMs: {
      'upstream-agent': config.upstreamAgent.readyTimeoutMs,
      'nested-server': config.nestedServer.readyTimeoutMs,
      'downstream-agent': config.downstreamAgent.readyTimeoutMs,
    },
    waitingFor: {
      'upstream-agent': `node attestation or its first sync with the SPIRE server at ${serverAddress}:${serverPort}`,
      'nested-server':
        `its SVID from the upstream agent and its CA from the SPIRE server at ${serverAddress}:${serverPort} ` +
        `(the downstream entry ${config.downstream.spiffeId} must exist there, parented to the upstream agent)`,
      'downstream-agent': `node attestation with the nested server at ${nestedServerHost(config)}:${config.nestedServer.bindPort}`,
    },
  };
}
