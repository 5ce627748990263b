// Help texts: they list only what exists.

import { DEFAULT_CONFIG_PATH, DEFAULT_HTTP_LISTEN } from '../config/defaults.js';

export const COMMANDS = ['run', 'render', 'status', 'join-token', 'doctor', 'broker'] as const;
export type Command = (typeof COMMANDS)[number];

const CONFIG_OPTION = `  -c, --config PATH  the JSON config file (default ${DEFAULT_CONFIG_PATH});
                     POLLER_BOOTSTRAP_* and the entrypoint's environment variables override it`;

const MAIN = `Usage: poller-bootstrap <command> [options]

Gives a ServiceRadar edge poller its SPIFFE identity: join token, nested SPIRE, supervision.

Commands:
  run         run the daemon (systemd service or container entrypoint)
  render      print, write or check the three SPIRE configs from the config, without starting anything
  status      ask a running daemon for its state
  join-token  mint a join token for a poller (admin API or SPIRE server) and register its downstream entry
  doctor      check this host: SPIRE binaries, directories, token, identities, server, admin API, ports
  broker      serve enrolment: mint join tokens for pollers beside the cluster SPIRE server

Options:
  -h, --help     show this help; \`poller-bootstrap help <command>\` or \`<command> --help\` for a command
  -V, --version  print the version

Exit codes: 0 ok, 64 usage error, 69 unavailable (daemon, server, binaries), 70 internal error,
73 cannot create an output file, 77 credential refused, 78 configuration error.
`;

const JOIN_TOKEN_HELP = `Usage: poller-bootstrap join-token [--url URL CREDENTIAL | --socket-path PATH | --address HOST:PORT ID]
                                   [options]

Mints a SPIRE join token for a poller and, with --register-downstream, the downstream entry that lets its
nested server get its CA. The whole request is checked before anything is minted. The token is printed only
with --token-only, or written with --output; otherwise only its fingerprint, expiry and parent ID are shown.

Where the token comes from (one of; default --socket-path /tmp/spire-server/private/api.sock):
      --url URL              the admin API (ServiceRadar core, or poller-bootstrap broker), with one of
                               --api-key-file FILE, --bearer-file FILE, --username NAME --password-file FILE
                             (files 0600); --ca-file PEM for a private CA; --allow-http for loopback tests
      --socket-path PATH     the SPIRE server's admin socket
      --address HOST:PORT    the SPIRE server's TCP port, mTLS as an admin workload (an entry with admin: true),
                             the server verified as spiffe://<trust domain>/spire/server; its X509-SVID from
                               --workload-api-socket PATH, or --cert-file --key-file --bundle-file (PEM);
                             --trust-domain TD (default: the trust domain of --spiffe-id or
                             --downstream-spiffe-id)
                             A flag that belongs to another of these three is an error, not ignored.
The token:
      --spiffe-id ID         the agent's alias SPIFFE ID (CreateJoinToken agent_id; client_spiffe_id)
      --ttl DURATION         how long it may wait for its agent: 900, 15m, 4h (default 15m, at most 24h)
      --register-downstream  also register the downstream entry, parented to the token's agent ID:
      --downstream-spiffe-id ID
      --selector TYPE:VALUE  repeatable, e.g. unix:path:/opt/spire/bin/spire-server
      --x509-ttl DURATION, --jwt-ttl DURATION, --admin
      --prune                with --register-downstream and --socket-path or --address: delete the earlier
                             entries for the same downstream SPIFFE ID that this command registered and whose
                             token expired with no agent attested (or whose agent is gone); no other entry
      --prune-grace DURATION how long past its token's expiry such an entry is kept (default 60s)
Output:
  -o, --output FILE          the JSON response (with the token), 0600; refuses an existing file without --force
      --force                overwrite --output
      --token-only           print only the token
  -h, --help                 show this help

Exit codes: 0 ok, 64 bad request (nothing minted, but ServiceRadar core may mint before it answers 400),
69 server unreachable or failing, 73 output file cannot be written, 77 credential refused, not an admin, or
denied by the broker's policy. A failure after the token was minted says so, with its fingerprint and expiry.
`;

const DOCTOR_HELP = `Usage: poller-bootstrap doctor [--config PATH] [--json]

Checks this host before and after enrolment, one row per check (ok, warn or fail) with its fix:
the SPIRE binaries and their -version against spire.version; the state and run directories and their
modes; a waiting token file, its mode and expiry; the identities on disk and their expiry; the trust
bundle; a TLS handshake with the SPIRE server verified against that bundle; the admin API and its
credential (a login, or only whether it answers: an API key cannot be tried without minting); the clock
against the admin API's; and the daemon's ports (free, or held by the running daemon).

Options:
${CONFIG_OPTION}
      --json         print {ok, checks: [{check, status, detail, fix}]}
  -h, --help         show this help

Exit codes: 0 nothing failed (warnings allowed), 1 a check failed, 64 usage, 78 configuration error.
`;

const HELP: Record<Command, string> = {
  doctor: DOCTOR_HELP,
  'join-token': JOIN_TOKEN_HELP,
  run: `Usage: poller-bootstrap run [--config PATH]

Runs the daemon: brings up the upstream agent, the nested SPIRE server and the downstream agent, and serves
GET /healthz, /readyz and /status on http.listen (default ${DEFAULT_HTTP_LISTEN}, loopback only).

Options:
${CONFIG_OPTION}
  -h, --help         show this help
`,
  render: `Usage: poller-bootstrap render [--config PATH] [--out DIR] [--check]

Prints the upstream agent, nested server and downstream agent configs (HCL) for the configured SPIRE
version. No join token is read: from SPIRE 1.13.3 the configs name the token file (join_token_file);
older versions get no token key, the daemon supplies the token when it runs.

Options:
${CONFIG_OPTION}
  -o, --out DIR      write upstream-agent.conf, server.conf and downstream-agent.conf into DIR instead
      --check        write nothing; exit 1 and print a line diff for each file that differs: those in DIR
                     with --out, else the daemon's own (as it writes them once it holds no join token)
  -h, --help         show this help
`,
  status: `Usage: poller-bootstrap status [--json] [--config PATH | --url URL]

Asks a running daemon for its state (GET <URL>/status) and prints a summary: the phase, what it waits for,
each child, each identity, and the last error with its cause and fix. Exits 69 when the daemon cannot be
reached.

Options:
${CONFIG_OPTION}
                     the daemon's address is its http.listen (default ${DEFAULT_HTTP_LISTEN})
  -u, --url URL      the daemon's HTTP address, instead of the config's
      --json         print the daemon's JSON document instead of the summary
  -h, --help         show this help
`,
  broker: `Usage: poller-bootstrap broker [--config PATH]
       poller-bootstrap broker hash [--api-key] < SECRET

Runs the join-token broker beside the cluster SPIRE server: POST /api/admin/spire/join-tokens (ServiceRadar
core's contract, with its policy checked before anything is minted), POST /auth/login, GET /healthz, /readyz
and /metrics, over HTTPS (tls.cert_file, tls.key_file). Tokens are minted through the SPIRE server's admin
socket (spire.socket_path). SIGHUP, or an edit of the users or API keys file, reloads both files and the TLS
certificate, each on its own: one that does not load keeps the loaded one.

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
