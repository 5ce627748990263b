// npm run demo: the simulated cluster SPIRE server and ServiceRadar admin API on loopback, a join token minted
// through the admin API, and a simulated upstream agent attesting with it. Everything lives in a temporary
// folder that is removed at the end (or on Ctrl-C).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fetchX509SvidsOnce } from '../test/sim/common/workload-client.js';
import { stopAll } from '../test/sim/launch.js';
import { startAdmin, startAgent, startServer } from '../test/sim/topology.js';

const root = mkdtempSync(join(tmpdir(), 'poller-bootstrap-demo-'));
const step = (n: number, text: string) => process.stdout.write(`\n[${n}] ${text}\n`);
const fast = { SIM_TIME_SCALE: '0.2' };

async function cleanup(): Promise<void> {
  await stopAll();
  rmSync(root, { recursive: true, force: true });
}

async function demo(): Promise<void> {
  step(1, `simulated cluster spire-server (data in ${root})`);
  const server = await startServer(join(root, 'cluster'), { env: fast });
  process.stdout.write(`    agents: 127.0.0.1:${server.port}   admin socket: ${server.socket}\n`);

  step(2, 'simulated ServiceRadar core admin API');
  // Demo-only credentials, generated per run and kept in the temporary folder.
  const password = Math.random().toString(36).slice(2);
  const admin = await startAdmin(join(root, 'core'), server, {
    users: [{ username: 'demo-admin', password, roles: ['admin'] }],
  });
  process.stdout.write(`    ${admin.url}\n`);

  step(3, 'POST /auth/login, then POST /api/admin/spire/join-tokens (registering the downstream entry)');
  const login = await fetch(`${admin.url}/auth/login`, {
    method: 'POST',
    body: JSON.stringify({ username: 'demo-admin', password }),
  });
  const { access_token } = (await login.json()) as { access_token: string };
  const uid = process.getuid?.() ?? 0;
  const res = await fetch(`${admin.url}/api/admin/spire/join-tokens`, {
    method: 'POST',
    headers: { authorization: `Bearer ${access_token}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      ttl_seconds: 600,
      register_downstream: true,
      downstream: {
        spiffe_id: `spiffe://${server.trustDomain}/ns/edge/poller-nested-spire`,
        selectors: [`unix:uid:${uid}`],
      },
    }),
  });
  const minted = (await res.json()) as { token: string; expires_at: string; downstream_entry_id: string };
  process.stdout.write(
    `    HTTP ${res.status}: token minted (expires ${minted.expires_at}), downstream entry ${minted.downstream_entry_id}\n`,
  );

  step(4, 'simulated upstream spire-agent attests with the token (read from a 0600 file, never argv)');
  const tokenFile = join(root, 'upstream-join-token');
  writeFileSync(tokenFile, minted.token, { mode: 0o600 });
  const agent = await startAgent(join(root, 'upstream-agent'), server, {
    joinTokenFile: tokenFile,
    env: fast,
  });
  const attested = await agent.proc.waitFor(/Node attestation was successful/);
  rmSync(tokenFile);
  process.stdout.write(
    `    ${attested.replace(minted.token, '<token>')}\n    token file deleted: tokens are single use\n`,
  );

  step(5, 'Workload API of the upstream agent: the SVID the nested spire-server would receive');
  let svids = await fetchX509SvidsOnce(agent.socket).catch(() => []);
  while (svids.length === 0) svids = await fetchX509SvidsOnce(agent.socket).catch(() => []);
  for (const s of svids) process.stdout.write(`    ${s.spiffe_id}\n`);

  step(6, 'done; stopping everything');
}

process.once('SIGINT', () => void cleanup().then(() => process.exit(130)));
demo()
  .then(cleanup)
  .catch(async (err: Error) => {
    process.stderr.write(`demo failed: ${err.message}\n`);
    await cleanup();
    process.exit(1);
  });
