// Help texts: they list only what exists (run, render, status, broker).

import { DEFAULT_CONFIG_PATH, DEFAULT_HTTP_LISTEN } from '../config/defaults.js';

export const COMMANDS = ['run', 'render', 'status', 'broker'] as const;
export type Command = (typeof COMMANDS)[number];

export const DEFAULT_STATUS_URL = `http://${DEFAULT_HTTP_LISTEN}`;

const CONFIG_OPTION = `  -c, --config PATH  the JSON config file (default ${DEFAULT_CONFIG_PATH});
                     POLLER_BOOTSTRAP_* and the entrypoint's environment variables override it`;

const MAIN = `Usage: poller-bootstrap <command> [options]

Gives a ServiceRadar edge poller its SPIFFE identity: join token, nested SPIRE, supervision.

Commands:
  run      run the daemon (systemd service or container entrypoint)
  render   print or write the three SPIRE configs from the config, without starting anything
  status   ask a running daemon for its state
  broker   serve enrolment: mint join tokens for pollers beside the cluster SPIRE server

Options:
  -h, --help     show this help; \`poller-bootstrap help <command>\` or \`<command> --help\` for a command
  -V, --version  print the version

Exit codes: 0 ok, 64 usage error, 69 daemon unavailable, 70 internal error, 78 configuration error.
`;

const HELP: Record<Command, string> = {
  run: `Usage: poller-bootstrap run [--config PATH]

Runs the daemon: brings up the upstream agent, the nested SPIRE server and the downstream agent, and serves
GET /healthz, /readyz and /status on http.listen (default ${DEFAULT_HTTP_LISTEN}, loopback only).

Options:
${CONFIG_OPTION}
  -h, --help         show this help
`,
  render: `Usage: poller-bootstrap render [--config PATH] [--out DIR]

Prints the upstream agent, nested server and downstream agent configs (HCL) for the configured SPIRE
version. No join token is read: from SPIRE 1.13.3 the configs name the token file (join_token_file);
older versions get no token key, the daemon supplies the token when it runs.

Options:
${CONFIG_OPTION}
  -o, --out DIR      write upstream-agent.conf, server.conf and downstream-agent.conf into DIR instead
  -h, --help         show this help
`,
  status: `Usage: poller-bootstrap status [--json] [--url URL]

Asks a running daemon for its state (GET <URL>/status) and prints a summary. Exits 69 when the daemon
cannot be reached.

Options:
      --json         print the daemon's JSON document instead of the summary
  -u, --url URL      the daemon's HTTP address (default ${DEFAULT_STATUS_URL}, the default http.listen)
  -h, --help         show this help
`,
  broker: `Usage: poller-bootstrap broker [--config PATH]
       poller-bootstrap broker hash [--api-key] < SECRET

Runs the join-token broker beside the cluster SPIRE server: POST /api/admin/spire/join-tokens (ServiceRadar
core's contract, with its policy checked before anything is minted), POST /auth/login, GET /healthz, /readyz
and /metrics, over HTTPS (tls.cert_file, tls.key_file). Tokens are minted through the SPIRE server's admin
socket (spire.socket_path). SIGHUP, or an edit, reloads the users and API keys files.

Rate limits (rate_limit.per_caller_per_minute, rate_limit.global_per_minute) are kept by each process: with
several replicas, a caller may get that many tokens from each replica.

\`broker hash\` reads a password (or with --api-key an API key of at least 32 characters) from standard input
and prints the hash to store in the users or API keys file; the secret is never an argument.

Options:
  -c, --config PATH  the broker's JSON config file (default /etc/serviceradar/join-token-broker.json)
      --api-key      (hash) hash an API key instead of a password
  -h, --help         show this help
`,
};

/** The top-level usage text. */
export function mainUsage(): string {
  return MAIN;
}

/** One command's help text. */
export function commandUsage(command: Command): string {
  return HELP[command];
}

export function isCommand(name: string): name is Command {
  return (COMMANDS as readonly string[]).includes(name);
}
