// One row of `poller-bootstrap doctor`: what was checked, how it went, and the one line that fixes it.

export type CheckStatus = 'ok' | 'warn' | 'fail';

export interface CheckResult {
  readonly check: string;
  readonly status: CheckStatus;
  readonly detail: string;
  /** What to do; null when nothing needs doing. */
  readonly fix: string | null;
}

export const ok = (check: string, detail: string): CheckResult => ({
  check,
  status: 'ok',
  detail,
  fix: null,
});
export const warn = (check: string, detail: string, fix: string | null = null): CheckResult => ({
  check,
  status: 'warn',
  detail,
  fix,
});
export const fail = (check: string, detail: string, fix: string): CheckResult => ({
  check,
  status: 'fail',
  detail,
  fix,
});

/** Runs a check; one that throws is a failure of that check, not of doctor. */
export async function guarded(
  check: string,
  run: () => Promise<CheckResult[]>,
  fix: string,
): Promise<CheckResult[]> {
  try {
    return await run();
  } catch (err) {
    return [fail(check, err instanceof Error ? err.message : String(err), fix)];
  }
}
