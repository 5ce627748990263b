// What a new configuration changes for the running bootstrap: which children must restart (their SPIRE config,
// command, environment or probe differ) and whether the workload entries must be registered again.
import type { Layout } from '../config/layout.js';
import type { Config } from '../config/types.js';
import { childSpec } from './children.js';
import { CHILDREN, type Child } from './machine-types.js';
import { wantedEntries } from './register.js';
import { renderFor } from './rendered.js';

// Compared without a token: a reload never changes which token a child holds.
const fingerprintOf = (config: Config, layout: Layout, child: Child) =>
  JSON.stringify([childSpec(config, layout, child), renderFor(config, layout, child, { kind: 'none' })]);

/** The children to restart and whether entries changed, going from `prev` to `next` (paths stay as laid out). */
export function planReload(
  prev: Config,
  next: Config,
  layout: Layout,
): { children: Child[]; entries: boolean } {
  const children = CHILDREN.filter((c) => fingerprintOf(prev, layout, c) !== fingerprintOf(next, layout, c));
  const entries = JSON.stringify(wantedEntries(prev)) !== JSON.stringify(wantedEntries(next));
  return { children, entries };
}
