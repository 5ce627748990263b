import hcl from 'js-hcl-parser';
import { describe, expect, it } from 'vitest';
import { pathLayout } from '../../../src/config/layout.js';
import { parseConfig } from '../../../src/config/load.js';
import {
  chooseJoinToken,
  type JoinTokenRef,
  RenderError,
  renderDownstreamAgentConfig,
  renderNestedServerConfig,
  renderUpstreamAgentConfig,
} from '../../../src/spire/render.js';
import { mustParseSpireVersion } from '../../../src/spire/version.js';
import { type Body, duration as simDuration } from '../../sim/common/hcl.js';

type Doc = Record<string, Record<string, unknown>[]>;
// js-hcl-parser is HashiCorp's HCL v1, the parser SPIRE itself uses.
const parse = (text: string): Doc => JSON.parse(hcl.parse(text)) as Doc;
const only = <T>(list: T[] | undefined): T => {
  expect(list).toHaveLength(1);
  return (list as T[])[0] as T;
};

const FILE = {
  trust_domain: 'carverauto.dev',
  state_dir: '/var/lib/pb',
  run_dir: '/run/pb',
  log_level: 'warn',
  upstream: {
    server_address: 'spire.example.net',
    server_port: 8081,
    trust_bundle_path: '/etc/pb/bundle.pem',
  },
};
const config = parseConfig(FILE);
const layout = pathLayout(config);
const TOKEN_FILE: JoinTokenRef = { kind: 'file', path: '/run/pb/upstream-join-token' };
const INLINE: JoinTokenRef = { kind: 'inline', token: 'a1b2c3d4-token' };
const NONE: JoinTokenRef = { kind: 'none' };
const HEALTH = (port: string) => ({
  listener_enabled: true,
  bind_address: '127.0.0.1',
  bind_port: port,
  live_path: '/live',
  ready_path: '/ready',
});
const UPSTREAM_AGENT = {
  data_dir: '/var/lib/pb/upstream-agent/data',
  log_level: 'WARN',
  log_format: 'json',
  server_address: 'spire.example.net',
  server_port: 8081,
  socket_path: '/run/pb/upstream-agent/agent.sock',
  trust_domain: 'carverauto.dev',
  trust_bundle_path: '/etc/pb/bundle.pem',
};

describe('renderUpstreamAgentConfig', () => {
  it.each<[string, JoinTokenRef, Record<string, unknown>]>([
    ['1.11.2', INLINE, { join_token: 'a1b2c3d4-token' }],
    ['1.11.2', NONE, {}],
    ['1.13.3', TOKEN_FILE, { join_token_file: '/run/pb/upstream-join-token' }],
    ['1.13.3', NONE, {}],
    ['1.14.0', TOKEN_FILE, { join_token_file: '/run/pb/upstream-join-token' }],
    ['1.14.0', INLINE, { join_token: 'a1b2c3d4-token' }],
  ])('SPIRE %s with token %j renders exactly the expected keys', (version, token, tokenKeys) => {
    const text = renderUpstreamAgentConfig(config, layout, token, {
      version: mustParseSpireVersion(version),
    });
    const doc = parse(text);
    expect(Object.keys(doc).sort()).toEqual(['agent', 'health_checks', 'plugins']);
    expect(only(doc.agent)).toEqual({ ...UPSTREAM_AGENT, ...tokenKeys });
    expect(only(doc.plugins)).toEqual({
      NodeAttestor: [{ join_token: [{ plugin_data: [{}] }] }],
      KeyManager: [{ disk: [{ plugin_data: [{ directory: '/var/lib/pb/upstream-agent/keys' }] }] }],
      // The default downstream selector is unix:path:<spire-server>, which needs the binary path discovered.
      WorkloadAttestor: [{ unix: [{ plugin_data: [{ discover_workload_path: true }] }] }],
    });
    expect(only(doc.health_checks)).toEqual(HEALTH('18088'));
    expect(text).not.toMatch(/retry_bootstrap|rebootstrap/);
  });

  it('refuses join_token_file for a SPIRE that does not know it', () => {
    const render = () =>
      renderUpstreamAgentConfig(config, layout, TOKEN_FILE, { version: mustParseSpireVersion('1.13.2') });
    expect(render).toThrow(RenderError);
    expect(render).toThrow(
      'cannot render join_token_file for SPIRE 1.13.2: join_token_file needs SPIRE 1.13.3 or later',
    );
  });

  it('uses config.spire.version when no version is given', () => {
    const old = parseConfig({ ...FILE, spire: { version: '1.11.2' } });
    expect(() => renderUpstreamAgentConfig(old, pathLayout(old), TOKEN_FILE)).toThrow(RenderError);
    expect(parse(renderUpstreamAgentConfig(config, layout, TOKEN_FILE)).agent?.[0]).toHaveProperty(
      'join_token_file',
    );
  });

  it('renders insecure_bootstrap instead of a bundle path', () => {
    const insecure = parseConfig({
      ...FILE,
      upstream: { server_address: 'spire', insecure_bootstrap: true },
    });
    const agent = only(parse(renderUpstreamAgentConfig(insecure, pathLayout(insecure), NONE)).agent);
    expect(agent.insecure_bootstrap).toBe(true);
    expect(agent).not.toHaveProperty('trust_bundle_path');
  });

  it('leaves discover_workload_path out when no selector needs it', () => {
    const plain = parseConfig({ ...FILE, downstream: { selectors: ['unix:uid:0'] } });
    const plugins = only(parse(renderUpstreamAgentConfig(plain, pathLayout(plain), NONE)).plugins);
    expect(plugins.WorkloadAttestor).toEqual([{ unix: [{ plugin_data: [{}] }] }]);
  });

  it('keeps hostile values inside their strings', () => {
    const hostile = parseConfig({
      ...FILE,
      upstream: { ...FILE.upstream, trust_bundle_path: '/etc/x" insecure_bootstrap = true "' },
    });
    const token: JoinTokenRef = { kind: 'inline', token: 'x"\n}\nplugins {' };
    const agent = only(
      parse(
        renderUpstreamAgentConfig(hostile, pathLayout(hostile), token, {
          version: mustParseSpireVersion('1.11.2'),
        }),
      ).agent,
    );
    expect(agent.trust_bundle_path).toBe('/etc/x" insecure_bootstrap = true "');
    expect(agent.join_token).toBe('x"\n}\nplugins {');
    expect(agent).not.toHaveProperty('insecure_bootstrap');
  });
});

describe('chooseJoinToken', () => {
  it('uses the file from 1.13.3 and the inline token before', () => {
    expect(chooseJoinToken(mustParseSpireVersion('1.13.3'), '/run/t', 'tok')).toEqual({
      kind: 'file',
      path: '/run/t',
    });
    expect(chooseJoinToken(mustParseSpireVersion('1.11.2'), '/run/t', 'tok')).toEqual({
      kind: 'inline',
      token: 'tok',
    });
  });
});

describe('renderNestedServerConfig', () => {
  it('renders exactly the expected keys', () => {
    const doc = parse(renderNestedServerConfig(config, layout));
    expect(Object.keys(doc).sort()).toEqual(['health_checks', 'plugins', 'server']);
    expect(only(doc.server)).toEqual({
      bind_address: '127.0.0.1',
      bind_port: 18081,
      socket_path: '/run/pb/server/api.sock',
      trust_domain: 'carverauto.dev',
      data_dir: '/var/lib/pb/server/data',
      log_level: 'WARN',
      log_format: 'json',
    });
    expect(only(doc.plugins)).toEqual({
      DataStore: [
        {
          sql: [
            {
              plugin_data: [
                { database_type: 'sqlite3', connection_string: '/var/lib/pb/server/data/datastore.sqlite3' },
              ],
            },
          ],
        },
      ],
      KeyManager: [{ disk: [{ plugin_data: [{ keys_path: '/var/lib/pb/server/keys/keys.json' }] }] }],
      NodeAttestor: [{ join_token: [{ plugin_data: [{}] }] }],
      UpstreamAuthority: [
        {
          spire: [
            {
              plugin_data: [
                {
                  server_address: 'spire.example.net',
                  server_port: '8081',
                  workload_api_socket: '/run/pb/upstream-agent/agent.sock',
                },
              ],
            },
          ],
        },
      ],
    });
    expect(only(doc.health_checks)).toEqual(HEALTH('18089'));
  });

  it('renders ca_ttl and default_x509_svid_ttl when they are set, as Go durations', () => {
    const ttls = parseConfig({
      ...FILE,
      nested_server: { ca_ttl_seconds: 172_800, default_x509_svid_ttl_seconds: 1_800 },
    });
    const server = only(parse(renderNestedServerConfig(ttls, pathLayout(ttls))).server);
    expect(server).toMatchObject({
      // Go's time.ParseDuration has no day unit: SPIRE would refuse "2d".
      ca_ttl: '48h',
      default_x509_svid_ttl: '30m',
    });
    // Read back as the simulated server reads SPIRE durations (s, m, h only).
    expect(simDuration(server as Body, 'ca_ttl')).toBe(172_800);
  });
});

describe('renderDownstreamAgentConfig', () => {
  const bundle = '/var/lib/pb/downstream-agent/bootstrap-bundle.pem';

  it.each<[string, JoinTokenRef, Record<string, unknown>]>([
    ['1.11.2', INLINE, { join_token: 'a1b2c3d4-token' }],
    [
      '1.13.3',
      { kind: 'file', path: '/run/pb/downstream-join-token' },
      { join_token_file: '/run/pb/downstream-join-token' },
    ],
    ['1.14.0', NONE, {}],
  ])('SPIRE %s joins the nested server on loopback with its own dirs (%j)', (version, token, tokenKeys) => {
    const doc = parse(
      renderDownstreamAgentConfig(config, layout, {
        joinToken: token,
        trustBundlePath: bundle,
        version: mustParseSpireVersion(version),
      }),
    );
    expect(Object.keys(doc).sort()).toEqual(['agent', 'health_checks', 'plugins']);
    expect(only(doc.agent)).toEqual({
      data_dir: '/var/lib/pb/downstream-agent/data',
      log_level: 'WARN',
      log_format: 'json',
      server_address: '127.0.0.1',
      server_port: 18081,
      socket_path: '/run/pb-workload/agent.sock',
      trust_domain: 'carverauto.dev',
      trust_bundle_path: bundle,
      ...tokenKeys,
    });
    expect(only(doc.plugins)).toEqual({
      NodeAttestor: [{ join_token: [{ plugin_data: [{}] }] }],
      KeyManager: [{ disk: [{ plugin_data: [{ directory: '/var/lib/pb/downstream-agent/keys' }] }] }],
      // The default workload selectors are uid/gid/user/group only.
      WorkloadAttestor: [{ unix: [{ plugin_data: [{}] }] }],
    });
    expect(only(doc.health_checks)).toEqual(HEALTH('18090'));
  });

  it('dials loopback when the nested server binds a wildcard, and discovers paths when a workload needs them', () => {
    const wide = parseConfig({
      ...FILE,
      nested_server: { bind_address: '0.0.0.0' },
      workloads: [
        { name: 'poller', spiffe_id: 'spiffe://carverauto.dev/p', selectors: ['unix:sha256:abcd'] },
      ],
    });
    const doc = parse(
      renderDownstreamAgentConfig(wide, pathLayout(wide), { joinToken: NONE, trustBundlePath: bundle }),
    );
    expect(only(doc.agent).server_address).toBe('127.0.0.1');
    expect(only(doc.plugins).WorkloadAttestor).toEqual([
      { unix: [{ plugin_data: [{ discover_workload_path: true }] }] },
    ]);
  });
});
