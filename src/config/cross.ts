// Rules across fields, checked on the decoded file and the defaulted config, reported under the user's keys.

import { posix } from 'node:path';
import { parseSpiffeId } from './checks.js';
import type { Reader } from './decode.js';
import type { FileConfig } from './schema.js';
import type { Config } from './types.js';

function required(reader: Reader, path: string, value: unknown, expected: string): void {
  if (value === undefined && !reader.reported(path)) reader.expected(path, expected, undefined);
}

function inTrustDomain(reader: Reader, path: string, spiffeId: string | undefined, td: string): void {
  if (spiffeId === undefined || td === '' || parseSpiffeId(spiffeId)?.trustDomain === td) return;
  reader.expected(path, `a SPIFFE ID in trust domain ${JSON.stringify(td)}`, spiffeId);
}

function checkUpstream(file: FileConfig, reader: Reader): void {
  const up = file.upstream;
  required(reader, 'trust_domain', file.trust_domain, 'a trust domain name, e.g. "carverauto.dev"');
  required(
    reader,
    'upstream.server_address',
    up?.server_address,
    'the upstream SPIRE server host name or IP address',
  );
  if (up?.trust_bundle_path !== undefined && up.insecure_bootstrap === true) {
    reader.expected('upstream.insecure_bootstrap', 'false when upstream.trust_bundle_path is set', true);
  } else if (up?.insecure_bootstrap !== true && !reader.reported('upstream.insecure_bootstrap')) {
    required(
      reader,
      'upstream.trust_bundle_path',
      up?.trust_bundle_path,
      'the path of the upstream trust bundle (or upstream.insecure_bootstrap: true)',
    );
  }
}

function checkEntries(file: FileConfig, reader: Reader): void {
  const td = file.trust_domain ?? '';
  inTrustDomain(reader, 'downstream.spiffe_id', file.downstream?.spiffe_id, td);
  const names = new Set<string>();
  file.workloads?.forEach((w, i) => {
    required(reader, `workloads[${i}].name`, w.name, 'a name of lowercase letters, digits, "-" and "_"');
    required(
      reader,
      `workloads[${i}].spiffe_id`,
      w.spiffe_id,
      'a SPIFFE ID "spiffe://<trust domain>/<path>"',
    );
    inTrustDomain(reader, `workloads[${i}].spiffe_id`, w.spiffe_id, td);
    if (w.name !== undefined && names.has(w.name)) {
      reader.expected(`workloads[${i}].name`, 'a name not used by another workload', w.name);
    }
    if (w.name !== undefined) names.add(w.name);
  });
}

const CREDENTIAL_CHOICE = 'one credential: api_key_file, username with password_file, or bearer_token_file';

function checkAdminApi(file: FileConfig, reader: Reader): void {
  const admin = file.admin_api;
  if (admin === undefined) {
    if (file.token?.sources?.includes('admin-api')) {
      reader.expected(
        'token.sources',
        '"admin-api" only together with an admin_api section',
        file.token.sources,
      );
    }
    return;
  }
  required(reader, 'admin_api.url', admin.url, 'an https:// URL');
  if (admin.url?.startsWith('http:') && admin.allow_http !== true) {
    reader.expected('admin_api.url', 'an https:// URL (or admin_api.allow_http: true)', admin.url);
  }
  if (admin.username !== undefined) {
    required(
      reader,
      'admin_api.password_file',
      admin.password_file,
      'the password file for admin_api.username',
    );
  } else if (admin.password_file !== undefined) {
    required(reader, 'admin_api.username', admin.username, 'the user name for admin_api.password_file');
  }
  const given = (['api_key_file', 'username', 'bearer_token_file'] as const).filter(
    (k) => admin[k] !== undefined,
  );
  const anyReported = ['api_key_file', 'username', 'password_file', 'bearer_token_file'].some((k) =>
    reader.reported(`admin_api.${k}`),
  );
  if (given.length > 1 || (given.length === 0 && !anyReported)) {
    reader.expected('admin_api', CREDENTIAL_CHOICE, given.length > 0 ? given : undefined);
  }
}

// Every listener is on the same host in practice (loopback), so any two equal ports collide.
function checkDistinct(config: Config, reader: Reader): void {
  const ports: [string, unknown, unknown][] = [
    ['upstream_agent.health_port', config.upstreamAgent.healthPort, config.upstreamAgent.healthPort],
    ['nested_server.bind_port', config.nestedServer.bindPort, config.nestedServer.bindPort],
    ['nested_server.health_port', config.nestedServer.healthPort, config.nestedServer.healthPort],
    ['downstream_agent.health_port', config.downstreamAgent.healthPort, config.downstreamAgent.healthPort],
    ['http.listen', config.http.port, config.http.listen],
  ];
  const sockets: [string, unknown, unknown][] = [
    ['upstream_agent.socket_path', config.upstreamAgent.socketPath, config.upstreamAgent.socketPath],
    ['nested_server.socket_path', config.nestedServer.socketPath, config.nestedServer.socketPath],
    ['downstream_agent.socket_path', config.downstreamAgent.socketPath, config.downstreamAgent.socketPath],
  ];
  for (const [what, items] of [['port', ports] as const, ['socket path', sockets] as const]) {
    items.forEach(([path, value, shown], i) => {
      const clash = items.slice(0, i).find(([, other]) => other === value);
      if (clash) reader.expected(path, `a ${what} not already used by ${reader.label(clash[0])}`, shown);
    });
  }
}

// The socket's folder is opened to a group, so it must not be a folder holding a token or a private socket.
function checkWorkloadSocketDir(config: Config, reader: Reader): void {
  const dir = posix.dirname(config.downstreamAgent.socketPath);
  const privateDirs: [string, string][] = [
    ['run_dir', posix.normalize(`${config.runDir}/`)],
    ['token.file', posix.dirname(config.token.file)],
    ['upstream_agent.socket_path', posix.dirname(config.upstreamAgent.socketPath)],
    ['nested_server.socket_path', posix.dirname(config.nestedServer.socketPath)],
  ];
  const clash = privateDirs.find(([, other]) => posix.normalize(`${other}/`) === posix.normalize(`${dir}/`));
  if (clash && !reader.reported('downstream_agent.socket_path')) {
    reader.expected(
      'downstream_agent.socket_path',
      `a socket in a folder of its own, not the folder of ${reader.label(clash[0])}`,
      config.downstreamAgent.socketPath,
    );
  }
}

/** Checks the rules that involve more than one field; problems go to the reader. */
export function crossCheck(file: FileConfig, config: Config, reader: Reader): void {
  checkUpstream(file, reader);
  checkEntries(file, reader);
  checkAdminApi(file, reader);
  checkDistinct(config, reader);
  checkWorkloadSocketDir(config, reader);
}
