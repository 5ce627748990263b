import { readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import * as grpc from '@grpc/grpc-js';
import type { Faults, Stats } from '../common/faults.js';
import { rpcError } from '../common/grpc.js';
import type { Log } from '../common/log.js';
import type { SvidCache } from './cache.js';

function groupName(gid: number): string | undefined {
  try {
    const line = readFileSync('/etc/group', 'utf8')
      .split('\n')
      .find((l) => l.split(':')[2] === String(gid));
    return line?.split(':')[0];
  } catch {
    return undefined;
  }
}

/**
 * The caller's selectors. Node cannot read SO_PEERCRED, so the simulator attests every caller as the user it
 * runs as (unix:uid/user/gid/group), or as SPIRE_SIM_CALLER_SELECTORS says ("unix:uid:0,unix:path:/x").
 * Like SPIRE's unix attestor, unix:path and unix:sha256 selectors exist only with discover_workload_path.
 */
export function callerSelectors(discoverWorkloadPath: boolean): string[] {
  const configured = process.env.SPIRE_SIM_CALLER_SELECTORS;
  let list: string[];
  if (configured) {
    list = configured
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  } else {
    const me = userInfo();
    list = [`unix:uid:${me.uid}`, `unix:user:${me.username}`, `unix:gid:${me.gid}`];
    const group = groupName(me.gid);
    if (group) list.push(`unix:group:${group}`);
  }
  return discoverWorkloadPath ? list : list.filter((s) => !/^unix:(path|sha256):/.test(s));
}

/** SPIRE's Workload API FetchX509SVID: streams the caller's SVIDs and every later change. */
export function workloadService(deps: {
  cache: SvidCache;
  discoverWorkloadPath: boolean;
  log: Log;
  faults: Faults;
  stats: Stats;
}): grpc.UntypedServiceImplementation {
  const { cache, log, faults, stats } = deps;
  const FetchX509SVID: grpc.handleServerStreamingCall<any, any> = async (call) => {
    stats.inc('fetch_x509_svid');
    const header = call.metadata.get('workload.spiffe.io');
    if (header.length !== 1 || header[0] !== 'true') {
      call.emit('error', rpcError(grpc.status.INVALID_ARGUMENT, 'security header missing from request'));
      return;
    }
    await faults.delay();
    if (faults.take('failNext')) {
      call.emit('error', rpcError(faults.state.failStatus as grpc.status, faults.state.failMessage));
      return;
    }
    const selectors = callerSelectors(deps.discoverWorkloadPath);
    const have = new Set(selectors);
    let last = '';
    const send = () => {
      const mine = cache
        .svids()
        .filter((s) => s.entry.selectors.every((x) => have.has(`${x.type}:${x.value}`)));
      if (mine.length === 0) {
        log.error('No identity issued', {
          registered: false,
          selectors: `[${selectors.join(' ')}]`,
          subsystem_name: 'endpoints',
        });
        call.emit('error', rpcError(grpc.status.PERMISSION_DENIED, 'no identity issued'));
        return false;
      }
      const key = mine.map((s) => `${s.entry.id}@${s.expiresAt}`).join(',');
      if (key === last) return true;
      last = key;
      const bundle = Buffer.concat(cache.bundle);
      call.write({
        svids: mine.map((s) => ({
          spiffe_id: `spiffe://${s.entry.spiffe_id.trust_domain}${s.entry.spiffe_id.path}`,
          x509_svid: Buffer.concat(s.chain),
          x509_svid_key: s.key,
          bundle,
          hint: s.entry.hint,
        })),
        crl: [],
        federated_bundles: {},
      });
      return true;
    };
    if (!send()) return;
    const onUpdate = () => {
      if (!send()) cache.off('update', onUpdate);
    };
    cache.on('update', onUpdate);
    call.on('cancelled', () => cache.off('update', onUpdate));
  };
  return { FetchX509SVID };
}
