// SPIRE release numbers and the configuration features each release accepts (DESIGN §6 version matrix).

export interface SpireVersion {
  readonly major: number;
  readonly minor: number;
  readonly patch: number;
  /** The part after `-`, e.g. `rc1` or `dev-unk`; null for a release. */
  readonly prerelease: string | null;
}

const VERSION = /^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$/;

/** Parses `1.13.3`, `v1.13.3`, `1.14.0-rc1` or `1.13.3-dev-unk` (what `spire-agent --version` prints); null if not a version. */
export function parseSpireVersion(text: string): SpireVersion | null {
  const match = VERSION.exec(text.trim());
  if (!match) return null;
  return {
    major: Number(match[1]),
    minor: Number(match[2]),
    patch: Number(match[3]),
    prerelease: match[4] ?? null,
  };
}

/** Parses a version that is known to be well formed (a constant, or validated config). */
export function mustParseSpireVersion(text: string): SpireVersion {
  const version = parseSpireVersion(text);
  if (!version) throw new TypeError(`not a SPIRE version: ${JSON.stringify(text)}`);
  return version;
}

/** Formats a version back to `major.minor.patch[-prerelease]`. */
export function formatSpireVersion(v: SpireVersion): string {
  return `${v.major}.${v.minor}.${v.patch}${v.prerelease === null ? '' : `-${v.prerelease}`}`;
}

function compareCore(a: SpireVersion, b: SpireVersion): number {
  return Math.sign(a.major - b.major || a.minor - b.minor || a.patch - b.patch);
}

/** Semver order: -1, 0 or 1; a prerelease sorts before its release. */
export function compareSpireVersions(a: SpireVersion, b: SpireVersion): number {
  const core = compareCore(a, b);
  if (core !== 0) return core;
  if (a.prerelease === b.prerelease) return 0;
  if (a.prerelease === null) return 1;
  if (b.prerelease === null) return -1;
  return a.prerelease < b.prerelease ? -1 : 1;
}

// Feature gates compare major.minor.patch only: a prerelease or dev build of X already has X's config keys.
const atLeast = (v: SpireVersion, major: number, minor: number, patch: number): boolean =>
  compareCore(v, { major, minor, patch, prerelease: null }) >= 0;

/** `agent { join_token_file }` exists from 1.13.3. */
export function supportsJoinTokenFile(v: SpireVersion): boolean {
  return atLeast(v, 1, 13, 3);
}

/** `agent { retry_bootstrap }` exists before 1.14.0 (deprecated in 1.13.0, removed in 1.14.0). */
export function hasRetryBootstrap(v: SpireVersion): boolean {
  return !atLeast(v, 1, 14, 0);
}

/** `agent { rebootstrap_mode, rebootstrap_delay }` exist from 1.13.0. */
export function hasRebootstrap(v: SpireVersion): boolean {
  return atLeast(v, 1, 13, 0);
}
