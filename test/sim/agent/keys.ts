import { join } from 'node:path';
import { readJson, writeFileAtomic } from '../common/store.js';

/** The agent's KeyManager: "disk" keeps `{"keys": {id: base64(PKCS#8)}}` in keys.json, "memory" keeps nothing. */
export class KeyStore {
  #keys = new Map<string, Buffer>();

  constructor(readonly dir: string | undefined) {
    if (!dir) return;
    const raw = readJson<{ keys?: Record<string, string> }>(join(dir, 'keys.json'));
    for (const [id, b64] of Object.entries(raw?.keys ?? {})) this.#keys.set(id, Buffer.from(b64, 'base64'));
  }

  all(): Map<string, Buffer> {
    return this.#keys;
  }

  /** Stores the agent SVID key under the id SPIRE alternates between (agent-svid-A / agent-svid-B). */
  putAgentKey(pkcs8: Buffer): string {
    const id = this.#keys.has('agent-svid-A') ? 'agent-svid-B' : 'agent-svid-A';
    this.#keys.clear();
    this.#keys.set(id, pkcs8);
    if (this.dir) {
      const keys = Object.fromEntries([...this.#keys].map(([k, v]) => [k, v.toString('base64')]));
      writeFileAtomic(join(this.dir, 'keys.json'), JSON.stringify({ keys }, null, '\t'));
    }
    return id;
  }
}
