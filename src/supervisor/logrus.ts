// Parses the log lines SPIRE's children print (logrus, `log_format = "text"` or `"json"`) into a level, a
// message and fields, so the daemon can re-log them as its own structured JSON.
import type { LogLevel } from '../observability/logger.js';

export type LineFields = Record<string, unknown>;

export interface ParsedLine {
  level: LogLevel;
  msg: string;
  fields: LineFields;
}

// logrus level names (sirupsen/logrus `Level.String`); pino has no `warning` or `panic`.
const LEVELS: Record<string, LogLevel> = {
  trace: 'trace',
  debug: 'debug',
  info: 'info',
  warning: 'warn',
  warn: 'warn',
  error: 'error',
  fatal: 'fatal',
  panic: 'fatal',
};

// The child's own timestamp is dropped: the daemon's logger stamps the line when it re-logs it.
const OWN_KEYS = new Set(['time', 'level', 'msg']);

const toLevel = (name: string): LogLevel => LEVELS[name.toLowerCase()] ?? 'info';

/** Parses one line of logrus text or JSON output; anything else becomes an info line carrying the text as-is. */
export function parseLogrusLine(line: string): ParsedLine {
  const text = line.trimEnd();
  const parsed = text.startsWith('{') ? parseJson(text) : parseText(text);
  return parsed ?? { level: 'info', msg: text, fields: {} };
}

function parseJson(text: string): ParsedLine | undefined {
  let record: unknown;
  try {
    record = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof record !== 'object' || record === null || Array.isArray(record)) return undefined;
  const { level, msg } = record as Record<string, unknown>;
  if (typeof level !== 'string' || typeof msg !== 'string') return undefined;
  const fields: LineFields = {};
  for (const [k, v] of Object.entries(record)) if (!OWN_KEYS.has(k)) fields[k] = v;
  return { level: toLevel(level), msg, fields };
}

// key=value pairs; a value is either a Go %q-quoted string or a run of non-space characters.
const PAIR = /\s*([^\s="]+)=("(?:[^"\\]|\\.)*"|[^\s"]*)/y;

function parseText(text: string): ParsedLine | undefined {
  const pairs = new Map<string, string>();
  PAIR.lastIndex = 0;
  while (PAIR.lastIndex < text.length) {
    const start = PAIR.lastIndex;
    const match = PAIR.exec(text);
    if (match === null) {
      if (text.slice(start).trim() === '') break;
      return undefined;
    }
    const [, k = '', raw = ''] = match;
    const value = raw.startsWith('"') ? unquoteGo(raw) : raw;
    if (value === undefined) return undefined;
    pairs.set(k, value);
  }
  const level = pairs.get('level');
  const msg = pairs.get('msg');
  if (level === undefined || msg === undefined) return undefined;
  const fields: LineFields = {};
  for (const [k, v] of pairs) if (!OWN_KEYS.has(k)) fields[k] = v;
  return { level: toLevel(level), msg, fields };
}

const SIMPLE_ESCAPES: Record<string, string> = {
  a: '\x07',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
  v: '\v',
  '\\': '\\',
  '"': '"',
  "'": "'",
};

// Go's strconv.Quote output (which logrus uses for values needing quotes); JSON.parse lacks \a \v \x \U.
function unquoteGo(quoted: string): string | undefined {
  const body = quoted.slice(1, -1);
  let out = '';
  const bytes: number[] = [];
  const flushBytes = () => {
    if (bytes.length > 0) out += Buffer.from(bytes.splice(0)).toString('utf8');
  };
  for (let i = 0; i < body.length; i++) {
    const ch = body[i] as string;
    if (ch !== '\\') {
      flushBytes();
      out += ch;
      continue;
    }
    const esc = body[i + 1] ?? '';
    if (esc === 'x') {
      const hex = body.slice(i + 2, i + 4);
      if (!/^[0-9a-fA-F]{2}$/.test(hex)) return undefined;
      bytes.push(Number.parseInt(hex, 16));
      i += 3;
      continue;
    }
    flushBytes();
    if (esc === 'u' || esc === 'U') {
      const len = esc === 'u' ? 4 : 8;
      const hex = body.slice(i + 2, i + 2 + len);
      if (!new RegExp(`^[0-9a-fA-F]{${len}}$`).test(hex)) return undefined;
      const cp = Number.parseInt(hex, 16);
      if (cp > 0x10ffff) return undefined;
      out += String.fromCodePoint(cp);
      i += 1 + len;
      continue;
    }
    const simple = SIMPLE_ESCAPES[esc];
    if (simple === undefined) return undefined;
    out += simple;
    i += 1;
  }
  flushBytes();
  return out;
}
