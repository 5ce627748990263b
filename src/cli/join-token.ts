// `poller-bootstrap join-token`: mints a SPIRE join token for a poller — through the admin API (ServiceRadar core
// or this project's broker), the SPIRE server's admin socket, or its TCP port as an admin workload — and, asked
// to, registers the nested server's downstream entry under it. The token reaches stdout only when asked.
import { link, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { SpireApiError } from '../spire/api-error.js';
import { downstreamEntry } from '../spire/downstream-entry.js';
import { adminSocket, adminTcp, type SpireEndpoint } from '../spire/endpoint.js';
import { maskJoinTokenIds } from '../spire/join-token-id.js';
import { type ServerClient, serverClient } from '../spire/server-client.js';
import { staleEntries } from '../spire/stale-entries.js';
import { createAdminClient } from '../token/admin-client.js';
import { TokenError } from '../token/errors.js';
import { fingerprint } from '../token/fingerprint.js';
import { writeSecretFile } from '../token/secret-file.js';
import { spireServerSource } from '../token/source-spire-server.js';
import { type CliIo, EXIT } from './io.js';
import { type JoinTokenPlan, parseJoinTokenArgs } from './join-token-args.js';

/** DESIGN §7's 201 body: what ServiceRadar core and the broker answer, and what --output writes. */
interface Minted {
  token: string;
  expires_at: string;
  parent_spiffe_id: string;
  downstream_entry_id?: string;
}

/** What a direct registration did besides minting: the entries --prune deleted, or why it could not. */
interface Pruned {
  ids: string[];
  failure?: string;
}

/** A failure after the token was minted: the token exists, unused and unrevocable, until it expires. */
class AfterMintError extends Error {
  constructor(
    readonly minted: Minted,
    override readonly cause: unknown,
  ) {
    super('after minting');
  }
}

/** A failure with its exit code and one actionable line. */
class CommandError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

async function checkOutput(output: JoinTokenPlan['output']): Promise<void> {
  if (!output) return;
  const dir = await stat(dirname(output.file)).catch(() => null);
  if (!dir?.isDirectory()) {
    throw new CommandError(`--output: the directory ${dirname(output.file)} does not exist`, EXIT.cantCreate);
  }
  if (!output.force && (await stat(output.file).catch(() => null))) {
    throw new CommandError(`--output: ${output.file} exists; remove it or pass --force`, EXIT.usage);
  }
}

async function viaAdminApi(
  plan: JoinTokenPlan,
  reach: Extract<JoinTokenPlan['reach'], { kind: 'admin-api' }>,
) {
  const client = await createAdminClient({
    url: reach.url,
    auth: reach.auth,
    caFile: reach.caFile,
    allowHttp: reach.allowHttp,
  });
  try {
    const m = await client.mintJoinToken(plan.request);
    const minted: Minted = {
      token: m.token,
      expires_at: m.expiresAt.toISOString(),
      parent_spiffe_id: m.parentId,
    };
    if (m.downstreamEntryId) minted.downstream_entry_id = m.downstreamEntryId;
    return minted;
  } finally {
    await client.close();
  }
}

async function viaSpire(
  plan: JoinTokenPlan,
  endpoint: SpireEndpoint,
  given: string | undefined,
): Promise<{ minted: Minted; pruned?: Pruned }> {
  const client = serverClient(endpoint);
  try {
    // The agent ID is spiffe://<the server's trust domain>/spire/agent/join_token/<token>.
    const trustDomain = given ?? (await client.trustDomain());
    const got = await spireServerSource({
      socketPath: endpoint,
      ttlSeconds: plan.request.ttlSeconds,
      agentId: plan.request.clientSpiffeId,
      trustDomain,
    }).acquire();
    if (!got?.parentId) throw new CommandError('the SPIRE server minted no token', EXIT.unavailable);
    const minted: Minted = {
      token: got.token,
      expires_at: got.expiresAt?.toISOString() ?? '',
      parent_spiffe_id: got.parentId,
    };
    const ds = plan.request.downstream;
    if (!ds) return { minted };
    const expiresAt = got.expiresAt ?? new Date(Date.now() + plan.request.ttlSeconds * 1000);
    const created = await client
      .createEntry(downstreamEntry(ds, got.parentId, 'poller-bootstrap join-token', expiresAt))
      .catch((err: unknown) => {
        throw new AfterMintError(minted, err);
      });
    minted.downstream_entry_id = created.id;
    if (!plan.prune) return { minted };
    return {
      minted,
      pruned: await prune(client, ds.spiffeId, created.id, trustDomain, plan.prune.graceSeconds),
    };
  } finally {
    client.close();
  }
}

/**
 * Deletes this tool's earlier entries for the downstream SPIFFE ID whose token expired with no agent attested.
 * The token is already minted by now: a failure here is reported, never allowed to lose it.
 */
async function prune(
  client: ServerClient,
  spiffeId: string,
  keepId: string | undefined,
  trustDomain: string,
  graceSeconds: number,
): Promise<Pruned> {
  try {
    const stale = await staleEntries(client, {
      marker: 'poller-bootstrap join-token',
      spiffeId,
      trustDomain,
      graceSeconds,
      nowMs: Date.now(),
      ...(keepId ? { keepId } : {}),
    });
    await client.deleteEntries(stale.map((e) => e.id));
    return { ids: stale.map((e) => e.id) };
  } catch (err) {
    return { ids: [], failure: (err as Error).message };
  }
}

async function mint(plan: JoinTokenPlan): Promise<{ minted: Minted; pruned?: Pruned }> {
  const { reach } = plan;
  if (reach.kind === 'admin-api') return { minted: await viaAdminApi(plan, reach) };
  if (reach.kind === 'socket') return viaSpire(plan, adminSocket(reach.socketPath), undefined);
  const endpoint = await adminTcp(reach.address, reach.trustDomain, reach.identity).catch((err: Error) => {
    throw new CommandError(`cannot get the admin workload's SVID: ${err.message}`, EXIT.unavailable);
  });
  return viaSpire(plan, endpoint, reach.trustDomain);
}

/** Writes 0600 through a temporary file; without --force, link() refuses a file that appeared meanwhile. */
async function writeOutput(file: string, force: boolean, text: string): Promise<void> {
  if (force) return writeSecretFile(file, text);
  const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.new`);
  await writeSecretFile(tmp, text);
  try {
    await link(tmp, file);
  } finally {
    await rm(tmp, { force: true });
  }
}

function exitFor(err: unknown): { code: number; message: string } {
  if (err instanceof AfterMintError) {
    const { code, message } = exitFor(err.cause);
    const { minted } = err;
    return {
      code,
      message: `${message}; a join token was minted and is left unused (fingerprint ${fingerprint(minted.token)}): SPIRE cannot revoke it, it expires at ${minted.expires_at}`,
    };
  }
  if (err instanceof CommandError) return { code: err.exitCode, message: err.message };
  if (err instanceof TokenError) {
    const denied = err.code === 'unauthorized' || err.code === 'forbidden' || err.code === 'policy-denied';
    const code = denied
      ? EXIT.noPerm
      : err.code === 'config' || err.code === 'bad-request'
        ? EXIT.usage
        : EXIT.unavailable;
    return { code, message: err.message };
  }
  if (err instanceof SpireApiError) {
    return {
      code: err.codeName === 'PERMISSION_DENIED' ? EXIT.noPerm : EXIT.unavailable,
      message: err.message,
    };
  }
  throw err;
}

/** Runs `join-token`; the request is checked whole before anything is minted. */
export async function joinTokenCommand(args: string[], io: CliIo): Promise<number> {
  const plan = parseJoinTokenArgs(args);
  let minted: Minted;
  let pruned: Pruned | undefined;
  try {
    await checkOutput(plan.output);
    ({ minted, pruned } = await mint(plan));
    const { output } = plan;
    if (output) {
      const text = `${JSON.stringify(minted, null, 2)}\n`;
      await writeOutput(output.file, output.force, text).catch((err: NodeJS.ErrnoException) => {
        const why = new CommandError(
          `--output: cannot write ${output.file} (${err.code ?? err.message})`,
          EXIT.cantCreate,
        );
        throw new AfterMintError(minted, why);
      });
    }
  } catch (err) {
    const { code, message } = exitFor(err);
    io.stderr(`poller-bootstrap join-token: ${maskJoinTokenIds(message)}\n`);
    return code;
  }
  if (pruned) reportPruned(pruned, plan, io);
  if (plan.tokenOnly) {
    io.stdout(`${minted.token}\n`);
    return EXIT.ok;
  }
  // Without --token-only or --output, the token itself is not printed: only what identifies it.
  const shown = {
    fingerprint: fingerprint(minted.token),
    expires_at: minted.expires_at,
    parent_spiffe_id: minted.parent_spiffe_id,
    ...(minted.downstream_entry_id ? { downstream_entry_id: minted.downstream_entry_id } : {}),
    ...(pruned && !pruned.failure ? { pruned_entry_ids: pruned.ids } : {}),
  };
  io.stdout(`${maskJoinTokenIds(JSON.stringify(shown, null, 2))}\n`);
  if (!plan.output)
    io.stderr('poller-bootstrap join-token: the token is not shown; use --output FILE or --token-only\n');
  return EXIT.ok;
}

function reportPruned(pruned: Pruned, plan: JoinTokenPlan, io: CliIo): void {
  const id = plan.request.downstream?.spiffeId;
  if (pruned.failure) {
    io.stderr(
      `poller-bootstrap join-token: warning: the token was minted, but pruning stale entries for ${id} failed: ` +
        `${maskJoinTokenIds(pruned.failure)}; run --prune again later\n`,
    );
  } else if (pruned.ids.length > 0) {
    io.stderr(
      `poller-bootstrap join-token: pruned ${pruned.ids.length} stale downstream entr${pruned.ids.length === 1 ? 'y' : 'ies'} ` +
        `for ${id} (token expired, no agent attested): ${pruned.ids.join(', ')}\n`,
    );
  }
}
