import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { livePids, stopAll } from '../sim/launch.js';

/** A temporary folder for one test file; `cleanup` stops every process and proves nothing is left behind. */
export function sandbox(prefix: string) {
  const root = mkdtempSync(join(tmpdir(), `pb-${prefix}-`));
  let n = 0;
  return {
    root,
    /** A fresh sub-folder per test, so tests share no state. */
    dir: (name: string) => join(root, `${++n}-${name}`),
    async cleanup() {
      await stopAll();
      // Grandchildren (a daemon's SPIRE children) name the sandbox in their arguments.
      expect(processesMentioning(root)).toEqual([]);
      rmSync(root, { recursive: true, force: true });
      expect(livePids()).toEqual([]);
      expect(existsSync(root)).toBe(false);
    },
  };
}

/** TCP addresses (ip:port) that a process listens on, read from /proc (state 0A = LISTEN). */
export function listeningAddresses(pid: number): string[] {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m?.[1]) inodes.add(m[1]);
    } catch {
      // fd closed while reading
    }
  }
  const out: string[] = [];
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readFileSync(file, 'utf8').split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols[3] !== '0A' || !inodes.has(cols[9] ?? '')) continue;
      const [hexIp, hexPort] = (cols[1] ?? '').split(':');
      const ip =
        hexIp?.length === 8
          ? (hexIp.match(/../g) ?? [])
              .reverse()
              .map((h) => Number.parseInt(h, 16))
              .join('.')
          : hexIp === '00000000000000000000000001000000'
            ? '::1'
            : `[${hexIp}]`;
      out.push(`${ip}:${Number.parseInt(hexPort ?? '0', 16)}`);
    }
  }
  return out;
}

/** PIDs of live processes whose command line mentions `needle` (e.g. a sandbox folder): leftovers of a test. */
export function processesMentioning(needle: string): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(needle)) out.push(Number(entry));
    } catch {
      // exited while reading
    }
  }
  return out;
}
