// Decoders from parsed JSON to typed values: each reports problems under the key as the user wrote it.

import { hasControlChar } from '../common/control-chars.js';
import { type ConfigIssue, expectedMessage } from './errors.js';

const TOP_LEVEL = '(top level)';

/** Collects issues; maps a JSON path to the name the user wrote (an environment variable when it came from one). */
export class Reader {
  readonly #labels: ReadonlyMap<string, string>;
  readonly #issues: ConfigIssue[] = [];
  readonly #unknown: string[] = [];
  readonly #reported = new Set<string>();

  constructor(labels: ReadonlyMap<string, string> = new Map()) {
    this.#labels = labels;
  }

  /** The name to show for a JSON path. */
  label(path: string): string {
    return this.#labels.get(path) ?? path;
  }

  /** Records `<key>: expected <expected>, got <value>`. */
  expected(path: string, expected: string, value: unknown): void {
    const key = this.label(path);
    this.#reported.add(path);
    this.#issues.push({ key, message: expectedMessage(key, expected, value) });
  }

  /** Whether a problem was recorded for this path or a section holding it (so it is not also called missing). */
  reported(path: string): boolean {
    if (this.#reported.has(TOP_LEVEL)) return true;
    for (const done of this.#reported) {
      if (path === done || path.startsWith(`${done}.`) || path.startsWith(`${done}[`)) return true;
    }
    return false;
  }

  unknownKey(path: string): void {
    this.#unknown.push(path);
  }

  /** Unknown keys first (sorted, as SPIRE lists them), then the other issues in schema order. */
  issues(): ConfigIssue[] {
    const unknown = [...this.#unknown].sort().map((key) => ({ key, message: `${key}: unknown key` }));
    return [...unknown, ...this.#issues];
  }
}

/** A JSON Schema (draft 2020-12) fragment: each decoder carries the schema of what it accepts. */
export type JsonSchema = Readonly<Record<string, unknown>>;

/**
 * Absent (undefined or JSON null) gives undefined; present but invalid records an issue and gives undefined.
 * `schema` describes what it accepts, so the published JSON Schema comes from the same source as the loader.
 */
export type Decoder<T> = ((value: unknown, path: string, reader: Reader) => T | undefined) & {
  readonly schema?: JsonSchema;
};

export interface Check<T> {
  readonly test: (value: T) => boolean;
  readonly expected: string;
  /** What JSON Schema can say of the rule (a pattern, an enum); the test stays the authority. */
  readonly schema?: JsonSchema;
}

/** The same decoder with more said about it in the schema (a description, a default). */
export function annotate<T>(decoder: Decoder<T>, extra: JsonSchema): Decoder<T> {
  const wrapped = (value: unknown, path: string, reader: Reader) => decoder(value, path, reader);
  return Object.assign(wrapped, { schema: { ...decoder.schema, ...extra } });
}

/** A key's description, and its default when it has one fixed value. */
export const describe = <T>(description: string, decoder: Decoder<T>, defaultValue?: unknown): Decoder<T> =>
  annotate(decoder, defaultValue === undefined ? { description } : { description, default: defaultValue });

const withSchema = <T>(decoder: Decoder<T>, schema: JsonSchema): Decoder<T> =>
  Object.assign(decoder, { schema });

// Strings may end up in SPIRE's HCL: the writer escapes them, but we also refuse what could only be an attack.
const HCL_SAFE: Check<string> = {
  test: (s) => !hasControlChar(s) && !s.includes('${') && !s.includes('%{'),
  expected: 'text without control characters, "${" or "%{"',
};

export const childPath = (path: string, key: string): string => (path === '' ? key : `${path}.${key}`);

/** A string passing the HCL safety rule and then `check`. */
export function str(check?: Check<string>): Decoder<string> {
  return withSchema<string>(
    (value, path, reader) => {
      if (value === undefined || value === null) return undefined;
      if (typeof value !== 'string' || value === '') {
        reader.expected(path, check?.expected ?? 'a non-empty string', value);
        return undefined;
      }
      for (const c of check ? [HCL_SAFE, check] : [HCL_SAFE]) {
        if (!c.test(value)) {
          reader.expected(path, c.expected, value);
          return undefined;
        }
      }
      return value;
    },
    { type: 'string', minLength: 1, ...check?.schema },
  );
}

/** An integer in [min, max]. */
export function int(min: number, max: number): Decoder<number> {
  return withSchema<number>(
    (value, path, reader) => {
      if (value === undefined || value === null) return undefined;
      if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
        reader.expected(path, `an integer from ${min} to ${max}`, value);
        return undefined;
      }
      return value;
    },
    { type: 'integer', minimum: min, maximum: max },
  );
}

/** A number of seconds greater than zero (fractions allowed). */
export const positiveSeconds: Decoder<number> = withSchema<number>(
  (value, path, reader) => {
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
      reader.expected(path, 'a number of seconds greater than 0', value);
      return undefined;
    }
    return value;
  },
  { type: 'number', exclusiveMinimum: 0 },
);

export const bool: Decoder<boolean> = withSchema<boolean>(
  (value, path, reader) => {
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'boolean') {
      reader.expected(path, 'true or false', value);
      return undefined;
    }
    return value;
  },
  { type: 'boolean' },
);

/** A list; items are decoded under `path[i]`; the list is dropped if any item is bad. */
export function list<T>(item: Decoder<T>, options: { nonEmpty?: boolean } = {}): Decoder<T[]> {
  const schema = { type: 'array', items: item.schema ?? {}, ...(options.nonEmpty ? { minItems: 1 } : {}) };
  return withSchema<T[]>((value, path, reader) => {
    if (value === undefined || value === null) return undefined;
    if (!Array.isArray(value) || (options.nonEmpty && value.length === 0)) {
      reader.expected(path, options.nonEmpty ? 'a non-empty list' : 'a list', value);
      return undefined;
    }
    const out: T[] = [];
    let ok = true;
    for (const [i, element] of value.entries()) {
      const at = `${path}[${i}]`;
      const decoded = item(element, at, reader);
      if (decoded !== undefined) {
        out.push(decoded);
        continue;
      }
      ok = false;
      if (element === null) reader.expected(at, 'a value', element);
    }
    return ok ? out : undefined;
  }, schema);
}

export type Fields<T> = { readonly [K in keyof T]-?: Decoder<NonNullable<T[K]>> };

/** An object with exactly the given keys (others are reported as unknown). */
export function obj<T extends object>(fields: Fields<T>): Decoder<T> {
  const properties = Object.fromEntries(
    Object.entries(fields as Record<string, Decoder<unknown>>).map(([k, d]) => [k, d.schema ?? {}]),
  );
  return withSchema<T>(
    (value, path, reader) => {
      if (value === undefined || value === null) return undefined;
      if (typeof value !== 'object' || Array.isArray(value)) {
        reader.expected(path === '' ? TOP_LEVEL : path, 'an object', value);
        return undefined;
      }
      const input = value as Record<string, unknown>;
      for (const key of Object.keys(input)) {
        if (!Object.hasOwn(fields, key)) reader.unknownKey(childPath(path, key));
      }
      const out: Record<string, unknown> = {};
      for (const [key, decode] of Object.entries(fields) as [string, Decoder<unknown>][]) {
        const decoded = decode(input[key], childPath(path, key), reader);
        if (decoded !== undefined) out[key] = decoded;
      }
      return out as T;
    },
    { type: 'object', additionalProperties: false, properties },
  );
}
