import { describe, expect, it } from 'vitest';
import { type ManagedEntry, OWNER_HINT, planReconcile } from '../../../src/spire/reconcile.js';

const parent = 'spiffe://td/poller-bootstrap/downstream-agent';
const want = (spiffeId: string, selectors = ['unix:uid:0'], ttl = 3600): ManagedEntry => ({
  spiffeId,
  parentId: parent,
  selectors,
  x509SvidTtl: ttl,
  jwtSvidTtl: 300,
  hint: '',
});
const have = (id: string, e: ManagedEntry, hint = OWNER_HINT): ManagedEntry => ({ ...e, id, hint });

describe('planReconcile', () => {
  it('creates what is missing, marked as ours', () => {
    const plan = planReconcile([want('spiffe://td/poller')], []);
    expect(plan).toEqual({
      create: [{ ...want('spiffe://td/poller'), hint: OWNER_HINT }],
      update: [],
      delete: [],
    });
  });

  it('does nothing when the server already matches, whatever the selector order', () => {
    const w = want('spiffe://td/poller', ['unix:uid:0', 'unix:gid:0']);
    const plan = planReconcile([w], [have('1', { ...w, selectors: ['unix:gid:0', 'unix:uid:0'] })]);
    expect(plan).toEqual({ create: [], update: [], delete: [] });
  });

  it('updates changed selectors or TTLs in place, keeping the id', () => {
    const plan = planReconcile(
      [want('spiffe://td/poller', ['unix:uid:1'], 600)],
      [have('7', want('spiffe://td/poller'))],
    );
    expect(plan.update).toEqual([
      { ...want('spiffe://td/poller', ['unix:uid:1'], 600), id: '7', hint: OWNER_HINT },
    ]);
    expect(plan.create).toEqual([]);
  });

  it('deletes only owned entries that are no longer wanted', () => {
    const plan = planReconcile(
      [],
      [
        have('1', want('spiffe://td/old')),
        have('2', want('spiffe://td/someone-elses'), 'other-tool'),
        have('3', want('spiffe://td/unmarked'), ''),
      ],
    );
    expect(plan.delete).toEqual(['1']);
  });

  it('never adopts or rewrites an entry someone else made, even with the wanted SPIFFE ID', () => {
    const plan = planReconcile(
      [want('spiffe://td/poller', ['unix:uid:5'])],
      [have('9', want('spiffe://td/poller'), '')],
    );
    expect(plan).toEqual({
      create: [{ ...want('spiffe://td/poller', ['unix:uid:5']), hint: OWNER_HINT }],
      update: [],
      delete: [],
    });
  });

  it('removes duplicates of its own entries', () => {
    const w = want('spiffe://td/poller');
    const plan = planReconcile([w], [have('1', w), have('2', w)]);
    expect(plan).toEqual({ create: [], update: [], delete: ['2'] });
  });
});
