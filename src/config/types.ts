// The runtime configuration of `poller-bootstrap run`: camelCase, complete, frozen.

import type { LogLevel } from '../observability/log-levels.js';
import type { SpireVersion } from '../spire/version.js';
import type { ConfigTokenSource } from '../token/errors.js';

export type { ConfigTokenSource, LogLevel };

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
  readonly upstreamAgent: ChildConfig;
  readonly nestedServer: ChildConfig & {
    readonly bindAddress: string;
    readonly bindPort: number;
    /** The nested CA's lifetime (SPIRE `ca_ttl`); null: SPIRE's default, 24 h. */
    readonly caTtlSeconds: number | null;
    /** Its SVIDs' lifetime (`default_x509_svid_ttl`); null: SPIRE's default, 1 h. */
    readonly defaultX509SvidTtlSeconds: number | null;
  };
  /**
   * The poller's Workload API. Its folder is a directory of its own, 0750, group `socketGroup` (null: the
   * daemon's own group), so another user can connect while the run dir with the tokens stays 0700.
   */
  readonly downstreamAgent: ChildConfig & { readonly socketGroup: string | null };
  /** Null when no admin_api section is configured. */
  readonly adminApi: AdminApiConfig | null;
  /** Direct mode: the upstream SPIRE server's admin socket; null when not configured. */
  readonly spireServer: { readonly socketPath: string } | null;
  readonly token: {
    readonly sources: readonly ConfigTokenSource[];
    readonly credentialName: string;
    readonly file: string;
    readonly ttlSeconds: number;
    readonly maxPerHour: number;
  };
  readonly spire: {
    readonly agentPath: string;
    readonly serverPath: string;
    /** Parsed once at load; renderers and labels read it from here. */
    readonly version: SpireVersion;
    /** `spire.version: "auto"`: `version` is what the agent binary says, filled in by src/spire/binary-version.ts. */
    readonly autoVersion: boolean;
    /** Extra environment for the SPIRE children; they inherit nothing else from the daemon but PATH. */
    readonly childEnv: Readonly<Record<string, string>>;
  };
  /** The entry, parented to the upstream agent, that authorises the nested server. */
  readonly downstream: EntrySpec;
  readonly workloads: readonly WorkloadEntry[];
  readonly http: { readonly listen: string; readonly host: string; readonly port: number };
  readonly supervision: Supervision;
}

/** What every supervised SPIRE child has: its own socket, health port and readiness deadline. */
export interface ChildConfig {
  readonly socketPath: string;
  readonly healthPort: number;
  /** Spawn to ready; beyond it the child is restarted with backoff and `lastError` says what it waits for. */
  readonly readyTimeoutMs: number;
}

export interface Backoff {
  readonly initialMs: number;
  readonly maxMs: number;
}

/** Restart, retry and stop timings; defaults only (config/defaults.ts), not settable in the file. */
export interface Supervision {
  readonly stopGraceMs: number;
  readonly restart: Backoff;
  readonly restartResetAfterMs: number;
  readonly tokenRetry: Backoff;
}
