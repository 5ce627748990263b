import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DAEMON } from './harness.js';

const EXAMPLE = fileURLToPath(new URL('../../packaging/examples/poller-bootstrap.json', import.meta.url));

/** The npm packages a command loads, as Node's module debug output names them. */
function packagesLoaded(args: string[]): string[] {
  const res = spawnSync(process.execPath, [DAEMON, ...args], {
    encoding: 'utf8',
    env: { ...process.env, NODE_DEBUG: 'module' },
  });
  const names = new Set<string>();
  for (const m of res.stderr.matchAll(/node_modules\/((?:@[^/"]+\/)?[^/"]+)/g)) names.add(m[1] as string);
  return [...names].sort();
}

describe('commands load only what they need', () => {
  it.each([
    [['--version']],
    [['render', '--config', EXAMPLE]],
    [['status', '--url', 'http://127.0.0.1:1']],
    [['doctor', '--config', EXAMPLE]],
  ])('%j loads neither gRPC nor the file watcher', (args) => {
    const loaded = packagesLoaded(args);
    expect(loaded.filter((p) => p.startsWith('@grpc/') || p === 'chokidar' || p === 'protobufjs')).toEqual(
      [],
    );
  });

  it('join-token does load gRPC (the check sees what it is looking for)', () => {
    const loaded = packagesLoaded(['join-token', '--socket-path', '/nonexistent.sock']);
    expect(loaded).toContain('@grpc/grpc-js');
  });
});
