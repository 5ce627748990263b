import { createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { goBase64Error, goJsonError } from '../common/go-json.js';
import { goPathError } from '../common/go-text.js';
import { writeFileAtomic } from '../common/store.js';
import { generateKeyPair, type KeyPair } from '../common/x509.js';

/** A plugin that failed to configure: SPIRE's catalog message and the plugin's own error, for the two log lines. */
export class PluginError extends Error {
  constructor(
    readonly plugin: { name: string; type: string },
    readonly detail: string,
  ) {
    super(`failed to configure plugin "${plugin.name}": ${detail}`);
  }
}

/**
 * The server's KeyManager. "disk" keeps `{"keys": {"x509-CA-A": base64(PKCS#8), …}}` at keys_path, tab-indented
 * and written atomically, exactly as pkg/server/plugin/keymanager/disk does; "memory" forgets every key at exit,
 * so the CA journal finds no key of its own and a new CA is prepared at each start.
 */
export class ServerKeyManager {
  #keys = new Map<string, Buffer>();

  private constructor(readonly path: string | undefined) {}

  /** Loads keys_path as the disk plugin's Configure does; a bad file fails start-up with SPIRE's wording. */
  static load(path: string | undefined): ServerKeyManager {
    const km = new ServerKeyManager(path);
    if (!path) return km;
    const plugin = { name: 'disk', type: 'KeyManager' };
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return km;
      // A non-status error from a plugin crosses the plugin's gRPC boundary as code Unknown.
      throw new PluginError(
        plugin,
        `rpc error: code = Unknown desc = ${goPathError('open', path, err as NodeJS.ErrnoException)}`,
      );
    }
    const internal = (msg: string) => new PluginError(plugin, `rpc error: code = Internal desc = ${msg}`);
    const syntax = goJsonError(text);
    if (syntax) throw internal(`unable to decode keys JSON: ${syntax}`);
    const keys = (JSON.parse(text) as { keys?: Record<string, unknown> } | null)?.keys ?? {};
    for (const [id, b64] of Object.entries(keys)) {
      const bad = typeof b64 === 'string' ? goBase64Error(b64) : 'cannot unmarshal into []byte';
      if (bad) throw internal(`unable to decode keys JSON: ${bad}`);
      const der = Buffer.from(b64 as string, 'base64');
      try {
        createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
      } catch {
        throw internal(`unable to parse key "${id}": x509: failed to parse private key`);
      }
      km.#keys.set(id, der);
    }
    return km;
  }

  get(id: string): Buffer | undefined {
    return this.#keys.get(id);
  }

  /** Generates (replacing) the key `id`, e.g. `x509-CA-B`, and persists the whole set. */
  async generate(id: string): Promise<KeyPair> {
    const pair = await generateKeyPair();
    this.#keys.set(id, pair.pkcs8);
    if (this.path) {
      const keys = Object.fromEntries([...this.#keys].map(([k, v]) => [k, v.toString('base64')]));
      writeFileAtomic(this.path, JSON.stringify({ keys }, null, '\t'));
    }
    return pair;
  }
}
