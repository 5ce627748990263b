// When each agent's recent tokens were minted or may have been, kept in the state directory: token.max_per_hour
// must hold across restarts, or a daemon restarted over and over would mint once per start.
import { stateFile } from './state-file.js';

const HOUR_MS = 3_600_000;

export interface MintLog<K extends string> {
  /** Each key's mint times of the last hour, as loaded. */
  readonly loaded: Record<K, number[]>;
  /** Records the times the machine holds now (0600, write-then-rename); resolves once written. */
  save(mintedAt: Record<K, readonly number[]>): Promise<void>;
  /** The last save, settled or not. */
  saved(): Promise<void>;
}

/** Loads the log at `path`; a missing or unreadable file starts an empty one (reported by `onProblem`). */
export async function loadMintLog<K extends string>(
  path: string,
  keys: readonly K[],
  now: number,
  onProblem: (message: string) => void = () => {},
): Promise<MintLog<K>> {
  const file = stateFile(path, onProblem);
  const parsed = (await file.read()) as { minted_at?: Record<string, unknown> } | undefined;
  const recent = (value: unknown): number[] =>
    Array.isArray(value)
      ? value
          .filter((t): t is string => typeof t === 'string')
          .map((t) => Date.parse(t))
          .filter((t) => Number.isFinite(t) && now - t < HOUR_MS && t <= now)
          .sort((a, b) => a - b)
      : [];
  const loaded = Object.fromEntries(keys.map((k) => [k, recent(parsed?.minted_at?.[k])])) as Record<
    K,
    number[]
  >;
  return {
    loaded,
    save: (mintedAt) =>
      file.write({
        minted_at: Object.fromEntries(
          keys.map((k) => [k, mintedAt[k].map((t) => new Date(t).toISOString())]),
        ),
      }),
    saved: () => file.written(),
  };
}
