// P3, P4 and P5 on the packaged executable, each beside a bare Node.js measured in the same run: resident
// memory once ready, process start to /healthz 200, and CPU time while idle in ready.
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/** Resident set size (bytes) and CPU time (s) of a process, from /proc. */
export function usage(pid: number): { rss: number; cpu: number } {
  const rss = Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return { rss, cpu: ticks / 100 };
}

export async function freeLoopbackPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}

async function until200(url: string, child: ChildProcess): Promise<void> {
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${url}: the process exited (${child.exitCode})`);
    const ok = await fetch(url).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    await sleep(2);
  }
}

/** Start → first 200 from `url`, for a command; the process is killed afterwards. */
export async function startToHealthy(
  command: string[],
  url: string,
  env: NodeJS.ProcessEnv,
): Promise<number> {
  const started = performance.now();
  const child = spawn(command[0] as string, command.slice(1), { env, stdio: 'ignore' });
  try {
    await until200(url, child);
    return performance.now() - started;
  } finally {
    child.kill('SIGKILL');
  }
}

/** The reference: a bare Node.js answering HTTP 200 on `port`, as little as a process can do. */
export const bareNode = (port: number) => [
  process.execPath,
  '-e',
  `require('node:http').createServer((q, s) => s.end('ok')).listen(${port}, '127.0.0.1')`,
];

/**
 * Usage of `pid` and of a bare idle Node.js started beside it, over the same `seconds`, once `settleSeconds`
 * after ready have passed (the garbage collector's last rounds after the bootstrap); those are reported apart.
 */
export async function idleBeside(pid: number, seconds: number, settleSeconds: number) {
  const port = await freeLoopbackPort();
  const bare = spawn(bareNode(port)[0] as string, bareNode(port).slice(1), { stdio: 'ignore' });
  try {
    const ready = usage(pid);
    await sleep(settleSeconds * 1000);
    const [a0, b0] = [usage(pid), usage(bare.pid as number)];
    await sleep(seconds * 1000);
    const [a1, b1] = [usage(pid), usage(bare.pid as number)];
    return {
      rss: a1.rss,
      bareRss: b1.rss,
      cpu: a1.cpu - a0.cpu,
      bareCpu: b1.cpu - b0.cpu,
      settleSeconds,
      settleCpu: a0.cpu - ready.cpu,
    };
  } finally {
    bare.kill('SIGKILL');
  }
}
