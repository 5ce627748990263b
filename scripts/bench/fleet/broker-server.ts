// The `broker` target's own process (forked by target-broker.ts): the SPIRE stub on an admin socket, and the real
// `poller-bootstrap broker` (dist/src/cli/main.js) in front of it as an operator would run it — its config, users
// file, signing key and audit file written here, plain HTTP on loopback (allow_http), its global throttle at
// R a second. The outage is a stop (SIGTERM) and a start of the broker process on the same port; what the broker
// answered is read back from its audit file.
import { type ChildProcess, spawn } from 'node:child_process';
import { generateKeyPairSync, randomBytes, scrypt } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { announceReady, type ServerLogin, serveCommands } from './forked.js';
import { startSpireStub } from './spire-stub.js';
import type { Answer, ServerView, TargetOptions } from './target.js';

export type BrokerServerArgs = TargetOptions & ServerLogin;

const CLI = fileURLToPath(new URL('../../../src/cli/main.js', import.meta.url));
const until = (at: number) => sleep(Math.max(0, at - Date.now()));

/**
 * The users file's scrypt hash at ln=10, the cheapest the broker accepts: at its default (ln=15, about 0.1 s a
 * check) a thousand logins are some 100 s of CPU, and the two cores of the machine would measure that instead
 * of the throttle.
 */
async function cheapPasswordHash(password: string): Promise<string> {
  const salt = randomBytes(16);
  const hash = await new Promise<Buffer>((resolve, reject) =>
    scrypt(password, salt, 32, { N: 1024, r: 8, p: 1 }, (err, key) => (err ? reject(err) : resolve(key))),
  );
  const b64 = (b: Buffer) => b.toString('base64').replace(/=+$/, '');
  return `$scrypt$ln=10,r=8,p=1$${b64(salt)}$${b64(hash)}`;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** What the audit file says the broker answered: time, route and the status it sent. */
function answersOf(lines: string[]): Answer[] {
  const out: Answer[] = [];
  for (const line of lines) {
    let r: { at?: string; event?: string; rule?: string | null };
    try {
      r = JSON.parse(line) as typeof r;
    } catch {
      continue;
    }
    const at = Date.parse(r.at ?? '');
    if (Number.isNaN(at)) continue;
    const limited = r.rule === 'rate-limit' || r.rule === 'global-rate-limit';
    if (r.event === 'token-issued') out.push([at, 'join_tokens', 201]);
    else if (r.event === 'request-denied') out.push([at, 'join_tokens', limited ? 429 : 403]);
    else if (r.event === 'issuance-failed') out.push([at, 'join_tokens', 502]);
    else if (r.event === 'login') out.push([at, 'login', 200]);
    else if (r.event === 'login-denied') out.push([at, 'login', limited ? 429 : 401]);
  }
  return out.sort((a, b) => a[0] - b[0]);
}

async function main(): Promise<void> {
  const args = JSON.parse(process.argv[2] ?? '{}') as BrokerServerArgs;
  const stub = await startSpireStub(args.socket);
  const password = (await readFile(args.passwordFile, 'utf8')).trim();
  const usersFile = join(args.dir, 'broker-users.json');
  const users = [{ name: args.username, password_hash: await cheapPasswordHash(password), role: 'admin' }];
  await writeFile(usersFile, JSON.stringify({ users }), { mode: 0o600 });
  const jwtKeyFile = join(args.dir, 'broker-jwt.key');
  const { privateKey } = generateKeyPairSync('ed25519');
  await writeFile(jwtKeyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  const auditFile = join(args.dir, 'broker-audit.jsonl');
  const port = await freePort();
  const config = {
    trust_domain: args.trustDomain,
    listen: `127.0.0.1:${port}`,
    allow_http: true,
    // Every denial is logged at warn: a thousand pollers' 429s on stdout would only cost time.
    log_level: 'error',
    spire: { socket_path: args.socket },
    auth: { users_file: usersFile, jwt_key_file: jwtKeyFile },
    policy: { templates: [{ name: 'poller', downstream_spiffe_id: '/ns/{name}/poller-nested-spire' }] },
    rate_limit: {
      // The fleet shares one login: its own limit must not be what binds.
      per_caller_per_minute: 10_000,
      global_per_minute: Math.round(60 * args.rate),
      global_burst: args.burst,
    },
    // Large enough never to rotate during a run: the view reads one file.
    audit: { file: auditFile, max_bytes: 1024 ** 3, keep: 0 },
  };
  const configPath = join(args.dir, 'join-token-broker.json');
  await writeFile(configPath, JSON.stringify(config, null, 2), { mode: 0o600 });
  const url = `http://127.0.0.1:${port}`;

  let broker: ChildProcess | undefined;
  const start = async () => {
    const child = spawn(process.execPath, [CLI, 'broker', '--config', configPath], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000);
    });
    child.once('exit', (code, signal) => {
      if (broker === child) process.stderr.write(`broker exited (${code ?? signal}): ${stderr}\n`);
    });
    broker = child;
    for (let i = 0; ; i++) {
      if (child.exitCode !== null) throw new Error(`broker exited at start (${child.exitCode}): ${stderr}`);
      const ok = await fetch(`${url}/healthz`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) return;
      if (i > 400) throw new Error(`broker not serving after 20 s: ${stderr}`);
      await sleep(50);
    }
  };
  const stop = async () => {
    const child = broker;
    broker = undefined;
    if (!child || child.exitCode !== null) return;
    const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await gone;
    clearTimeout(timer);
  };
  await start();

  // Timed here, not by the pollers' process: a thousand pollers starting at once delay its timers by seconds.
  const outage = async (from: number, to: number) => {
    await until(from);
    await stop();
    const began = Date.now();
    await until(to);
    await start();
    return { from: began, to: Date.now() };
  };
  serveCommands(async (command) => {
    if (command.type === 'outage') return { outage: await outage(command.from, command.to) };
    if (command.type === 'view') {
      const text = await readFile(auditFile, 'utf8').catch(() => '');
      const answers = answersOf(text.split('\n').filter(Boolean));
      const stats: Record<string, number> = { join_tokens_created: stub.tokens() };
      for (const [, route, status] of answers) {
        stats[`${route}_${status}`] = (stats[`${route}_${status}`] ?? 0) + 1;
      }
      const view: ServerView = { answers, minted: Object.fromEntries(stub.minted), stats };
      return { view };
    }
    await stop();
    await stub.close();
    setImmediate(() => process.disconnect());
    return {};
  });
  announceReady(url);
}

main().catch((err: Error) => {
  process.stderr.write(`fleet broker server: ${err.stack ?? err.message}\n`);
  process.exit(70);
});
