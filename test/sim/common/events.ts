import { closeSync, openSync, writeSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

export type Program = 'spire-agent' | 'spire-server' | 'serviceradar-core';

/**
 * Appends one `{"program","pid","event","at"}` line to SIM_EVENTS_FILE, when set, so benchmarks learn when a
 * child was really ready by its own account instead of when a poll noticed. Each line is one write(2) on an
 * O_APPEND descriptor, which the kernel appends atomically, so concurrent processes never interleave lines.
 */
export function recordEvent(program: Program, event: 'start' | 'ready'): void {
  // "start" is the process's own start (Node's time origin), not the moment this module ran.
  append({
    program,
    pid: process.pid,
    event,
    at: event === 'start' ? Math.round(performance.timeOrigin) : Date.now(),
  });
}

/** One request the simulator served, and how long it took by its own clock (arrival to last byte sent). */
export function recordRequest(program: Program, path: string, ms: number): void {
  append({ program, pid: process.pid, event: 'request', path, ms: Math.round(ms * 10) / 10, at: Date.now() });
}

function append(record: Record<string, unknown>): void {
  const path = process.env.SIM_EVENTS_FILE;
  if (!path) return;
  const line = Buffer.from(`${JSON.stringify(record)}\n`);
  const fd = openSync(path, 'a', 0o644);
  try {
    writeSync(fd, line);
  } finally {
    closeSync(fd);
  }
}
