import { createServer, type Server } from 'node:http';
import { type Body, bool, str } from './hcl.js';

export const HEALTH_KEYS = [
  'listener_enabled',
  'bind_address',
  'bind_port',
  'live_path',
  'ready_path',
] as const;

/** What one process reports: overall liveness/readiness and SPIRE's per-check details body. */
export interface HealthState {
  live: boolean;
  ready: boolean;
  checks: Record<string, Record<string, string>>;
}

/**
 * Serves SPIRE's `health_checks` listener: GET live_path and ready_path answer 200 when healthy and 500
 * otherwise, with the checks as a JSON body.
 */
export async function startHealth(
  section: Body | undefined,
  state: () => HealthState,
): Promise<Server | undefined> {
  if (!section || !bool(section, 'listener_enabled')) return undefined;
  const address = str(section, 'bind_address') ?? 'localhost';
  const port = Number(str(section, 'bind_port') ?? '80');
  const livePath = str(section, 'live_path') ?? '/live';
  const readyPath = str(section, 'ready_path') ?? '/ready';
  const server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    const now = state();
    const ok = path === livePath ? now.live : path === readyPath ? now.ready : undefined;
    if (ok === undefined) {
      res.writeHead(404).end();
      return;
    }
    res
      .writeHead(ok ? 200 : 500, { 'content-type': 'application/json' })
      .end(`${JSON.stringify(now.checks)}\n`);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, address, resolve);
  });
  return server;
}
