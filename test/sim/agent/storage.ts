import { join } from 'node:path';
import { atLeast } from '../common/cli.js';
import { readJson, writeFileAtomic } from '../common/store.js';
import { fromPem, toPem } from '../common/x509.js';

/** SPIRE's `agent-data.json`: every certificate is PEM text, base64-encoded because Go marshals []byte so. */
interface StorageJson {
  svid: string[] | null;
  bundle: string[] | null;
  reattestable: boolean;
  bootstrap_use?: number;
  bootstrap_start_time?: string;
  connection_attempts?: number;
}

export interface AgentData {
  svid: Buffer[];
  bundle: Buffer[];
  reattestable: boolean;
}

const encode = (certs: Buffer[]) =>
  certs.length ? certs.map((c) => Buffer.from(toPem(c)).toString('base64')) : null;
const decode = (list: string[] | null | undefined) =>
  (list ?? []).flatMap((b64) => fromPem(Buffer.from(b64, 'base64').toString('utf8')));

export const agentDataPath = (dataDir: string) => join(dataDir, 'agent-data.json');

export function loadAgentData(dataDir: string): AgentData {
  const raw = readJson<StorageJson>(agentDataPath(dataDir));
  return { svid: decode(raw?.svid), bundle: decode(raw?.bundle), reattestable: Boolean(raw?.reattestable) };
}

export function saveAgentData(dataDir: string, data: AgentData): void {
  const out: StorageJson = {
    svid: encode(data.svid),
    bundle: encode(data.bundle),
    reattestable: data.reattestable,
  };
  if (atLeast('1.13.0')) {
    out.bootstrap_use = 0;
    out.bootstrap_start_time = '0001-01-01T00:00:00Z';
    out.connection_attempts = 0;
  }
  writeFileAtomic(agentDataPath(dataDir), JSON.stringify(out));
}
