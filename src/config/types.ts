// The runtime configuration of `poller-bootstrap run`: camelCase, complete, frozen.

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Token sources in their default order (DESIGN §3 acquire-token). */
export const TOKEN_SOURCES = ['credentials', 'file', 'admin-api', 'spire-server'] as const;
export type TokenSourceName = (typeof TOKEN_SOURCES)[number];

export interface Selector {
  readonly type: string;
  readonly value: string;
}

/** A registration entry to create: the downstream (nested server) entry or a workload entry. */
export interface EntrySpec {
  readonly spiffeId: string;
  readonly selectors: readonly Selector[];
  readonly x509SvidTtlSeconds: number;
  readonly jwtSvidTtlSeconds: number;
}

export interface WorkloadEntry extends EntrySpec {
  readonly name: string;
}

/** Exactly one way to authenticate to the admin API; only file paths are kept, never the secrets. */
export type AdminCredentials =
  | { readonly kind: 'api-key'; readonly apiKeyFile: string }
  | { readonly kind: 'login'; readonly username: string; readonly passwordFile: string }
  | { readonly kind: 'bearer'; readonly bearerTokenFile: string };

export interface AdminApiConfig {
  readonly url: string;
  readonly caFile: string | null;
  readonly allowHttp: boolean;
  readonly credentials: AdminCredentials | null;
  readonly connectTimeoutMs: number;
  readonly timeoutMs: number;
}

export interface Config {
  readonly trustDomain: string;
  readonly stateDir: string;
  readonly runDir: string;
  readonly logLevel: LogLevel;
  readonly identitySafetyMarginSeconds: number;
  readonly upstream: {
    readonly serverAddress: string;
    readonly serverPort: number;
    /** Null only with insecureBootstrap, which the daemon warns about. */
    readonly trustBundlePath: string | null;
    readonly insecureBootstrap: boolean;
  };
  readonly upstreamAgent: { readonly socketPath: string; readonly healthPort: number };
  readonly nestedServer: {
    readonly bindAddress: string;
    readonly bindPort: number;
    readonly socketPath: string;
    readonly healthPort: number;
  };
  /**
   * The poller's Workload API. Its folder is a directory of its own, 0750, group `socketGroup` (null: the
   * daemon's own group), so another user can connect while the run dir with the tokens stays 0700.
   */
  readonly downstreamAgent: {
    readonly socketPath: string;
    readonly healthPort: number;
    readonly socketGroup: string | null;
  };
  /** Null when no admin_api section is configured. */
  readonly adminApi: AdminApiConfig | null;
  /** Direct mode: the upstream SPIRE server's admin socket; null when not configured. */
  readonly spireServer: { readonly socketPath: string } | null;
  readonly token: {
    readonly sources: readonly TokenSourceName[];
    readonly credentialName: string;
    readonly file: string;
    readonly ttlSeconds: number;
    readonly maxPerHour: number;
  };
  readonly spire: {
    readonly agentPath: string;
    readonly serverPath: string;
    readonly version: string;
    /** Extra environment for the SPIRE children; they inherit nothing else from the daemon but PATH. */
    readonly childEnv: Readonly<Record<string, string>>;
  };
  /** The entry, parented to the upstream agent, that authorises the nested server. */
  readonly downstream: EntrySpec;
  readonly workloads: readonly WorkloadEntry[];
  readonly http: { readonly listen: string; readonly host: string; readonly port: number };
}
