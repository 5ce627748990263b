// Durations as operators type them: `900` (seconds), `15m`, `4h`, `1h30m`, `2d`.

const UNIT: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

/** Whole seconds, or null when the text is not a duration. */
export function parseDuration(text: string): number | null {
  const t = text.trim();
  if (/^\d+$/.test(t)) return Number(t);
  if (!/^(\d+[smhd])+$/.test(t)) return null;
  let seconds = 0;
  for (const [, n, unit] of t.matchAll(/(\d+)([smhd])/g)) seconds += Number(n) * (UNIT[unit as string] ?? 0);
  return seconds;
}

/**
 * `900` → `15m`, `172800` → `48h`: the shortest exact form that Go's time.ParseDuration reads, for SPIRE's
 * configuration (Go has no day unit).
 */
export function goDuration(seconds: number): string {
  for (const [unit, size] of [
    ['h', 3600],
    ['m', 60],
  ] as const) {
    if (seconds >= size && seconds % size === 0) return `${seconds / size}${unit}`;
  }
  return `${seconds}s`;
}
