import { readFileSync } from 'node:fs';
import hcl from 'js-hcl-parser';

/** A decoded HCL body: HCL v1 turns every block into a list of objects, which we keep. */
export type Body = Record<string, unknown>;

/**
 * Parses a SPIRE config file with HashiCorp's own HCL v1 parser (js-hcl-parser is hashicorp/hcl compiled to JS),
 * the parser SPIRE itself uses.
 */
export function parseHclFile(path: string): Body {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`could not read config file ${path}: ${(err as NodeJS.ErrnoException).code ?? err}`);
  }
  try {
    return JSON.parse(hcl.parse(text)) as Body;
  } catch (err) {
    const reason = String((err as Error).message ?? err).replace(/^unable to parse JSON: /, '');
    throw new Error(`unable to parse config file ${path}: ${reason}`);
  }
}

/** The single block `name` of a body (SPIRE merges repeated blocks; the simulator takes the first). */
export function block(body: Body, name: string): Body | undefined {
  const value = body[name];
  if (Array.isArray(value)) return (value[0] ?? {}) as Body;
  if (value && typeof value === 'object') return value as Body;
  return undefined;
}

/** `plugins { Type "name" { plugin_data { … } } }` as type → name → plugin_data. */
export function plugins(body: Body): Map<string, Map<string, Body>> {
  const out = new Map<string, Map<string, Body>>();
  const section = block(body, 'plugins') ?? {};
  for (const [type, list] of Object.entries(section)) {
    const byName = new Map<string, Body>();
    for (const entry of Array.isArray(list) ? list : [list]) {
      for (const [name, defs] of Object.entries(entry as Body)) {
        const def = (Array.isArray(defs) ? defs[0] : defs) as Body | undefined;
        byName.set(name, block(def ?? {}, 'plugin_data') ?? {});
      }
    }
    out.set(type, byName);
  }
  return out;
}

/** Keys of `body` that are not in `known`, sorted, as SPIRE lists them. */
export function unknownKeys(body: Body | undefined, known: readonly string[]): string[] {
  return Object.keys(body ?? {})
    .filter((k) => !known.includes(k))
    .sort();
}

export function str(body: Body | undefined, key: string): string | undefined {
  const v = body?.[key];
  return v === undefined ? undefined : String(v);
}

/** An integer key; like HCL v1's weak decoding, a numeric string is accepted. */
export function int(body: Body | undefined, key: string): number | undefined {
  const v = body?.[key];
  if (v === undefined) return undefined;
  const n = typeof v === 'number' ? v : Number(v);
  if (!Number.isInteger(n)) throw new Error(`${key}: cannot parse ${JSON.stringify(v)} as an integer`);
  return n;
}

export function bool(body: Body | undefined, key: string): boolean {
  const v = body?.[key];
  return v === true || v === 'true';
}

/** SPIRE durations ("1h", "90s", "30m", "24h"), in seconds. */
export function duration(body: Body | undefined, key: string): number | undefined {
  const v = str(body, key);
  if (v === undefined) return undefined;
  const units: Record<string, number> = { s: 1, m: 60, h: 3600 };
  let total = 0;
  const re = /(\d+)([smh])/g;
  let consumed = 0;
  for (const m of v.matchAll(re)) {
    total += Number(m[1]) * (units[m[2] ?? 's'] ?? 1);
    consumed += m[0].length;
  }
  if (consumed !== v.length || v.length === 0)
    throw new Error(`${key}: invalid duration ${JSON.stringify(v)}`);
  return total;
}
