/** Parses Go `flag`-style arguments (`-name value`, `-name=value`, `--name value`, bare booleans). */
export function parseFlags(
  args: string[],
  booleans: readonly string[],
  known: readonly string[],
): { flags: Map<string, string>; rest: string[] } {
  const flags = new Map<string, string>();
  let i = 0;
  for (; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg === '--') {
      i++;
      break;
    }
    if (!arg.startsWith('-') || arg === '-') break;
    const body = arg.replace(/^--?/, '');
    const eq = body.indexOf('=');
    const name = eq >= 0 ? body.slice(0, eq) : body;
    if (!known.includes(name) && !booleans.includes(name))
      throw new Error(`flag provided but not defined: -${name}`);
    if (eq >= 0) flags.set(name, body.slice(eq + 1));
    else if (booleans.includes(name)) flags.set(name, 'true');
    else {
      const value = args[++i];
      if (value === undefined) throw new Error(`flag needs an argument: -${name}`);
      flags.set(name, value);
    }
  }
  return { flags, rest: args.slice(i) };
}

/** The SPIRE release this simulator plays (SPIRE_SIM_VERSION, default 1.13.3); decides which keys exist. */
export const SIM_VERSION = process.env.SPIRE_SIM_VERSION ?? '1.13.3';

/** Compares dotted versions numerically: negative when a < b. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(/[.-]/).map(Number);
  const pb = b.split(/[.-]/).map(Number);
  for (let i = 0; i < 3; i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

export const atLeast = (v: string) => compareVersions(SIM_VERSION, v) >= 0;

/** Handles `-v`, `-version`, `--version` before any subcommand, as mitchellh/cli does: version on stderr. */
export function handleVersion(argv: string[]): void {
  if (['-v', '-version', '--version'].includes(argv[0] ?? '')) {
    process.stderr.write(`${SIM_VERSION}\n`);
    process.exit(0);
  }
}
