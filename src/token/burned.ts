// Fingerprints of tokens SPIRE refused or that were used up, kept in the state directory: a read-only source
// (a systemd credential, a token file the daemon cannot delete) keeps offering the same token after a restart,
// and SPIRE must not be handed a credential it already refused.
import { stateFile } from './state-file.js';

const KEEP = 256;
const MAX_AGE_MS = 30 * 86_400_000;

interface Entry {
  fingerprint: string;
  at: string;
}

export interface BurnedTokens {
  has(fingerprint: string): boolean;
  /** Records a burned token; the file is rewritten (0600, write-then-rename). */
  add(fingerprint: string, at: number): Promise<void>;
  readonly all: ReadonlySet<string>;
}

/** Loads the burned list at `path`; a missing or unreadable file starts an empty one (reported by `onProblem`). */
export async function loadBurnedTokens(
  path: string,
  now: number,
  onProblem: (message: string) => void = () => {},
): Promise<BurnedTokens> {
  const file = stateFile(path, onProblem);
  const parsed = (await file.read()) as { burned?: unknown } | undefined;
  let entries: Entry[] = Array.isArray(parsed?.burned)
    ? parsed.burned.filter(
        (e): e is Entry =>
          typeof e?.fingerprint === 'string' &&
          /^[0-9a-f]{12}$/.test(e.fingerprint) &&
          typeof e.at === 'string',
      )
    : [];
  entries = entries.filter((e) => now - Date.parse(e.at) < MAX_AGE_MS).slice(-KEEP);
  const set = new Set(entries.map((e) => e.fingerprint));
  // Set while the file lacks a fingerprint the set holds: the next add writes it again, even one already known.
  let unsaved = false;
  return {
    has: (fingerprint) => set.has(fingerprint),
    all: set,
    add(fingerprint, at) {
      if (!set.has(fingerprint)) {
        set.add(fingerprint);
        entries = [...entries, { fingerprint, at: new Date(at).toISOString() }].slice(-KEEP);
      } else if (!unsaved) return file.written();
      return file.write({ burned: entries }).then(
        () => {
          unsaved = false;
        },
        (err: unknown) => {
          unsaved = true;
          throw err;
        },
      );
    },
  };
}
