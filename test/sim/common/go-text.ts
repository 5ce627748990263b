// Go's renderings of values SPIRE puts in its log lines and error messages, so the simulator's text matches a
// real binary's byte for byte where the daemon (or an operator) reads it.

const UNITS: [number, string][] = [
  [1e6, 'ms'],
  [1e3, 'µs'],
  [1, 'ns'],
];

function trimFraction(value: string): string {
  return value.includes('.') ? value.replace(/0+$/, '').replace(/\.$/, '') : value;
}

/** Go's time.Duration.String for a number of seconds: `4.8981368s`, `1m30s`, `1h0m0s`, `500ms`. */
export function goDuration(seconds: number): string {
  let ns = Math.round(seconds * 1e9);
  if (ns === 0) return '0s';
  const sign = ns < 0 ? '-' : '';
  ns = Math.abs(ns);
  if (ns < 1e9) {
    const [div, unit] = UNITS.find(([d]) => ns >= d) ?? [1, 'ns'];
    return `${sign}${trimFraction((ns / div).toFixed(6))}${unit}`;
  }
  const h = Math.floor(ns / 3.6e12);
  const m = Math.floor((ns % 3.6e12) / 6e10);
  const s = trimFraction(((ns % 6e10) / 1e9).toFixed(9));
  if (h > 0) return `${sign}${h}h${m}m${s}s`;
  if (m > 0) return `${sign}${m}m${s}s`;
  return `${sign}${s}s`;
}

/** Go's %q for a string: a double-quoted literal with Go escapes (close enough to JSON for ASCII text). */
export function goQuote(value: string): string {
  return JSON.stringify(value);
}

/** The text of Go's syscall.Errno for the errno codes a dial or listen meets. */
const ERRNO: Record<string, string> = {
  EACCES: 'permission denied',
  EADDRINUSE: 'address already in use',
  EADDRNOTAVAIL: 'cannot assign requested address',
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset by peer',
  EHOSTUNREACH: 'no route to host',
  EISDIR: 'is a directory',
  ENETUNREACH: 'network is unreachable',
  ENOENT: 'no such file or directory',
  ENOTDIR: 'not a directory',
  EPERM: 'operation not permitted',
  ETIMEDOUT: 'connection timed out',
};

/** Go's text for a Node errno error, falling back to Node's own message. */
export function errnoText(err: NodeJS.ErrnoException): string {
  return (err.code && ERRNO[err.code]) ?? err.message;
}

/** Go's *os.PathError text: `open /path: permission denied`. */
export function goPathError(op: string, path: string, err: NodeJS.ErrnoException): string {
  return `${op} ${path}: ${errnoText(err)}`;
}

/** Go's *net.OpError for a failed listen: `listen tcp 127.0.0.1:8081: bind: address already in use`. */
export function goListenError(network: 'tcp' | 'unix', address: string, err: NodeJS.ErrnoException): string {
  return `listen ${network} ${address}: bind: ${errnoText(err)}`;
}

/**
 * Go's time.Time.String in UTC, as logrus prints time fields: `2025-10-30 12:32:03.5 +0000 UTC`, plus the
 * monotonic reading `m=+1.234567890` that values from time.Now() carry.
 */
export function goTime(d: Date, monotonic = false): string {
  const iso = d.toISOString();
  const ms = iso.slice(20, 23).replace(/0+$/, '');
  const base = `${iso.slice(0, 10)} ${iso.slice(11, 19)}${ms ? `.${ms}` : ''} +0000 UTC`;
  return monotonic ? `${base} m=+${process.uptime().toFixed(9)}` : base;
}
