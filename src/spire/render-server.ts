// Renders the nested spire-server's server.conf: its CA is signed through the upstream agent.

import type { Layout } from '../config/layout.js';
import type { Config } from '../config/types.js';
import { attr, block, renderHcl } from './hcl.js';
import { healthChecks, plugin, spireLogLevel } from './render-common.js';

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
