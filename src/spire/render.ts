// The three SPIRE config renderers: pure functions from the runtime config and path layout to HCL text.

export {
  type DownstreamAgentOptions,
  renderDownstreamAgentConfig,
  renderUpstreamAgentConfig,
} from './render-agent.js';
export {
  chooseJoinToken,
  type JoinTokenRef,
  needsWorkloadPath,
  RenderError,
  type RenderOptions,
} from './render-common.js';
export { renderNestedServerConfig } from './render-server.js';
