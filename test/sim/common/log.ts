type Level = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<Level, number> = { debug: 0, info: 1, warn: 2, error: 3 };
const TEXT_LEVEL: Record<Level, string> = { debug: 'debug', info: 'info', warn: 'warning', error: 'error' };

export type Fields = Record<string, string | number | boolean | undefined>;

/** A logrus-shaped logger, so the daemon parses the simulator's output exactly as it would SPIRE's. */
export interface Log {
  debug(msg: string, fields?: Fields): void;
  info(msg: string, fields?: Fields): void;
  warn(msg: string, fields?: Fields): void;
  error(msg: string, fields?: Fields): void;
  with(fields: Fields): Log;
}

function quote(value: string): string {
  // logrus quotes any value with a character outside [A-Za-z0-9-._/@^+].
  return /^[A-Za-z0-9\-._/@^+]+$/.test(value) ? value : JSON.stringify(value);
}

/** Writes logrus text (`time="…" level=info msg="…" k=v`, keys sorted) or logrus JSON lines. */
export function createLog(
  format: string | undefined,
  level: string | undefined,
  out: NodeJS.WritableStream = process.stdout,
  base: Fields = {},
): Log {
  const min = ORDER[(level?.toLowerCase() as Level) ?? 'info'] ?? ORDER.info;
  const json = format?.toLowerCase() === 'json';
  const write = (lvl: Level, msg: string, fields: Fields = {}) => {
    if (ORDER[lvl] < min) return;
    const all: Fields = { ...base, ...fields };
    const keys = Object.keys(all)
      .filter((k) => all[k] !== undefined)
      .sort();
    const time = new Date().toISOString();
    if (json) {
      const rec: Record<string, unknown> = { level: TEXT_LEVEL[lvl], msg, time };
      for (const k of keys) rec[k] = all[k];
      out.write(`${JSON.stringify(rec)}\n`);
    } else {
      const parts = [`time="${time}"`, `level=${TEXT_LEVEL[lvl]}`, `msg=${quote(msg)}`];
      for (const k of keys) parts.push(`${k}=${quote(String(all[k]))}`);
      out.write(`${parts.join(' ')}\n`);
    }
  };
  return {
    debug: (m, f) => write('debug', m, f),
    info: (m, f) => write('info', m, f),
    warn: (m, f) => write('warn', m, f),
    error: (m, f) => write('error', m, f),
    with: (f) => createLog(format, level, out, { ...base, ...f }),
  };
}
