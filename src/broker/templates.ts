// SPIFFE ID path templates of the broker's policy: `/ns/{name}/poller-nested-spire` is a path whose `{name}`
// segment takes exactly one path segment of a safe charset. A request matches a template only when every
// placeholder it binds in client_spiffe_id and downstream.spiffe_id takes the same value.

/** One path segment a placeholder may take: lowercase letters, digits and inner "-", 1 to 63 characters. */
const VALUE = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const PARAM = /^\{([a-z_][a-z0-9_]{0,31})\}$/;
const LITERAL = /^[A-Za-z0-9._-]+$/;

type Segment = { readonly literal: string } | { readonly param: string };

/** A compiled template; `text` is what the config says. */
export interface PathTemplate {
  readonly text: string;
  readonly segments: readonly Segment[];
}

/** What a value bound to a placeholder may look like, for messages. */
export const PLACEHOLDER_VALUE =
  'lowercase letters, digits and "-", one path segment of at most 63 characters';

/** Why a template text is unusable, or undefined when it compiles. */
export function templateProblem(text: string): string | undefined {
  if (!text.startsWith('/')) return 'a path starting with "/"';
  const parts = text.slice(1).split('/');
  for (const part of parts) {
    if (part === '' || part === '.' || part === '..') return 'a path without empty, "." or ".." segments';
    if (!PARAM.test(part) && !LITERAL.test(part)) {
      return 'path segments of letters, digits, ".", "-", "_", or a whole-segment placeholder such as "{name}"';
    }
  }
  if (parts[0] === 'spire') return 'a path outside /spire (reserved by SPIRE for its agents and servers)';
  const names = parts.map((p) => PARAM.exec(p)?.[1]).filter((n): n is string => n !== undefined);
  if (new Set(names).size !== names.length) return 'a path naming each placeholder once';
  return undefined;
}

/** Compiles a template; throws on a text templateProblem() refuses (config decoding checked it already). */
export function compileTemplate(text: string): PathTemplate {
  const problem = templateProblem(text);
  if (problem) throw new Error(`template ${JSON.stringify(text)}: expected ${problem}`);
  const segments = text
    .slice(1)
    .split('/')
    .map((part): Segment => {
      const param = PARAM.exec(part)?.[1];
      return param === undefined ? { literal: part } : { param };
    });
  return { text, segments: Object.freeze(segments) };
}

/**
 * Matches a SPIFFE ID path against a template, extending `bound` (placeholder → value); null when it does not
 * match or a placeholder would take a value other than the one already bound.
 */
export function matchTemplate(
  template: PathTemplate,
  path: string,
  bound: ReadonlyMap<string, string> = new Map(),
): Map<string, string> | null {
  if (!path.startsWith('/')) return null;
  const parts = path.slice(1).split('/');
  if (parts.length !== template.segments.length) return null;
  const out = new Map(bound);
  for (const [i, segment] of template.segments.entries()) {
    const part = parts[i] as string;
    if ('literal' in segment) {
      if (part !== segment.literal) return null;
      continue;
    }
    if (!VALUE.test(part)) return null;
    const already = out.get(segment.param);
    if (already !== undefined && already !== part) return null;
    out.set(segment.param, part);
  }
  return out;
}
