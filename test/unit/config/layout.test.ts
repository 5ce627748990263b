import { describe, expect, it } from 'vitest';
import { pathLayout } from '../../../src/config/layout.js';
import { parseConfig } from '../../../src/config/load.js';

const config = parseConfig({
  trust_domain: 'carverauto.dev',
  upstream: { server_address: 'spire', insecure_bootstrap: true },
  state_dir: '/var/lib/pb/',
  run_dir: '/run/pb',
});

describe('pathLayout', () => {
  it('keeps identity under the state dir and sockets, tokens and rendered configs under the run dir', () => {
    expect(pathLayout(config)).toEqual({
      stateDir: '/var/lib/pb/',
      pidDir: '/run/pb/pids',
      runDir: '/run/pb',
      configDir: '/run/pb/conf',
      upstreamAgent: {
        dataDir: '/var/lib/pb/upstream-agent/data',
        agentDataFile: '/var/lib/pb/upstream-agent/data/agent-data.json',
        keysDir: '/var/lib/pb/upstream-agent/keys',
        keysFile: '/var/lib/pb/upstream-agent/keys/keys.json',
        socketPath: '/run/pb/upstream-agent/agent.sock',
        configFile: '/run/pb/conf/upstream-agent.conf',
      },
      downstreamAgent: {
        dataDir: '/var/lib/pb/downstream-agent/data',
        agentDataFile: '/var/lib/pb/downstream-agent/data/agent-data.json',
        keysDir: '/var/lib/pb/downstream-agent/keys',
        keysFile: '/var/lib/pb/downstream-agent/keys/keys.json',
        socketPath: '/run/pb-workload/agent.sock',
        configFile: '/run/pb/conf/downstream-agent.conf',
        trustBundleFile: '/var/lib/pb/downstream-agent/bootstrap-bundle.pem',
        joinTokenFile: '/run/pb/downstream-join-token',
      },
      nestedServer: {
        dataDir: '/var/lib/pb/server/data',
        datastoreFile: '/var/lib/pb/server/data/datastore.sqlite3',
        keysFile: '/var/lib/pb/server/keys/keys.json',
        socketPath: '/run/pb/server/api.sock',
        configFile: '/run/pb/conf/server.conf',
      },
      upstreamJoinTokenFile: '/run/pb/upstream-join-token',
    });
  });
});
