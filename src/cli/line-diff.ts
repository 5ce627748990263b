// A small line diff for `render --check`: which lines the file on disk has that the rendering does not (-) and
// the other way round (+), in order, from their longest common subsequence. Configs are a few dozen lines.

/** `-`/`+` lines turning `before` into `after`, each with its line number; empty when they are equal. */
export function lineDiff(before: string, after: string): string[] {
  const a = before.split('\n');
  const b = after.split('\n');
  // lcs[i][j]: the length of the longest common subsequence of a[i..] and b[j..].
  const lcs = Array.from({ length: a.length + 1 }, () => new Array<number>(b.length + 1).fill(0));
  for (let i = a.length - 1; i >= 0; i--) {
    for (let j = b.length - 1; j >= 0; j--) {
      const row = lcs[i] as number[];
      row[j] =
        a[i] === b[j]
          ? ((lcs[i + 1] as number[])[j + 1] as number) + 1
          : Math.max((lcs[i + 1] as number[])[j] as number, row[j + 1] as number);
    }
  }
  const out: string[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) {
      i++;
      j++;
    } else if (
      j < b.length &&
      (i === a.length || ((lcs[i] as number[])[j + 1] as number) > ((lcs[i + 1] as number[])[j] as number))
    ) {
      out.push(`+${j + 1}: ${b[j]}`);
      j++;
    } else {
      out.push(`-${i + 1}: ${a[i]}`);
      i++;
    }
  }
  return out;
}
