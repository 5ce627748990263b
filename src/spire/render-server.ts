// Renders the nested spire-server's server.conf: its CA is signed through the upstream agent.

import { goDuration } from '../common/duration.js';
import type { Layout } from '../config/layout.js';
import type { Config } from '../config/types.js';
import { attr, block, type HclNode, renderHcl } from './hcl.js';
import { healthChecks, plugin, spireLogLevel } from './render-common.js';

// SPIRE's own defaults (CA 24 h, SVIDs 1 h) apply unless the configuration says otherwise; durations are Go's.
function ttls({ nestedServer }: Config): HclNode[] {
  const out: HclNode[] = [];
  if (nestedServer.caTtlSeconds !== null) out.push(attr('ca_ttl', goDuration(nestedServer.caTtlSeconds)));
  if (nestedServer.defaultX509SvidTtlSeconds !== null) {
    out.push(attr('default_x509_svid_ttl', goDuration(nestedServer.defaultX509SvidTtlSeconds)));
  }
  return out;
}

/** server.conf for the nested server; nothing in it depends on the SPIRE version. */
export function renderNestedServerConfig(config: Config, layout: Layout): string {
  const { nestedServer, upstream } = config;
  return renderHcl([
    block(
      'server',
      [],
      [
        attr('bind_address', nestedServer.bindAddress),
        attr('bind_port', nestedServer.bindPort),
        attr('socket_path', layout.nestedServer.socketPath),
        attr('trust_domain', config.trustDomain),
        attr('data_dir', layout.nestedServer.dataDir),
        attr('log_level', spireLogLevel(config)),
        attr('log_format', 'json'),
        ...ttls(config),
      ],
    ),
    block(
      'plugins',
      [],
      [
        plugin('DataStore', 'sql', [
          attr('database_type', 'sqlite3'),
          attr('connection_string', layout.nestedServer.datastoreFile),
        ]),
        plugin('KeyManager', 'disk', [attr('keys_path', layout.nestedServer.keysFile)]),
        plugin('NodeAttestor', 'join_token', []),
        // The spire UpstreamAuthority takes server_port as a string (its Configuration struct).
        plugin('UpstreamAuthority', 'spire', [
          attr('server_address', upstream.serverAddress),
          attr('server_port', String(upstream.serverPort)),
          attr('workload_api_socket', layout.upstreamAgent.socketPath),
        ]),
      ],
    ),
    healthChecks(nestedServer.healthPort),
  ]);
}
