import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CHILD_FAILURE_REASONS, TOKEN_RESULTS } from '../../../src/observability/metrics-labels.js';
import { CAUSE_CODES } from '../../../src/spire/causes.js';

// Every command in the docs' `sh` blocks is one that a test or CI runs: this table says where.
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const DEB_CHECK = 'packaging/ci/deb-install-check.sh';
const RUN_BY: [RegExp, string, string][] = [
  [/^npm ci && npm run package$/, '.ci/run', 'npm run package'],
  [/^dpkg -i poller-bootstrap_[\d.]+-1_amd64\.deb$/, DEB_CHECK, 'dpkg -i "$deb"'],
  [/^rpm -qlp poller-bootstrap-[\d.]+-1\.x86_64\.rpm$/, '.ci/run', 'rpm -qlp dist/pkg/poller-bootstrap-'],
  [/^poller-bootstrap --version$/, DEB_CHECK, '/usr/bin/poller-bootstrap --version'],
  [
    /^poller-bootstrap render --config \/etc\/serviceradar\/poller-bootstrap\.json$/,
    'test/e2e/packaged.test.ts',
    "['render', '--config', CONFFILE]",
  ],
  [
    /^POLLER_BOOTSTRAP_SPIRE_VERSION=1\.(11\.2|15\.3) poller-bootstrap render --config \/etc\/serviceradar\/poller-bootstrap\.json$/,
    'test/e2e/packaged.test.ts',
    'POLLER_BOOTSTRAP_SPIRE_VERSION: version',
  ],
  [
    /^install -m 0600 -o serviceradar -g serviceradar \/dev\/stdin \/run\/spire\/nested\/upstream-join-token$/,
    'test/e2e/daemon.test.ts',
    'writeFileSync(tokenFile(env), token, { mode: 0o600 })',
  ],
  [
    /^install -m 0600 -o serviceradar -g serviceradar \/dev\/stdin \/etc\/serviceradar\/poller-bootstrap\/admin-password$/,
    'test/e2e/harness.ts',
    'writeFileSync(passwordFile, ADMIN_PASSWORD, { mode: 0o600 })',
  ],
  [/^poller-bootstrap status$/, 'test/unit/cli/status.test.ts', "cli(['status', '--url', url])"],
  [/^poller-bootstrap status --json$/, 'test/e2e/observability.test.ts', "'status', '--json'"],
  [
    /^docker-compose -f packaging\/docker\/compose\.yaml config$/,
    '.ci/run',
    'docker-compose -f packaging/docker/compose.yaml config',
  ],
  [/^dpkg -P poller-bootstrap$/, DEB_CHECK, 'dpkg -P poller-bootstrap'],
  [
    /^openssl genpkey -algorithm ed25519 -out \/etc\/serviceradar\/join-token-broker\/jwt\.key$/,
    'test/e2e/broker-harness.ts',
    "'genpkey', '-algorithm', 'ed25519'",
  ],
  [
    /^docker-compose -f packaging\/docker\/broker\.compose\.yaml config$/,
    '.ci/run',
    'docker-compose -f packaging/docker/broker.compose.yaml config',
  ],
  [
    /^openssl rand -hex 32 > site-a\.key$/,
    'test/unit/cli/broker.test.ts',
    "'openssl', ['rand', '-hex', '32']",
  ],
  [
    /^poller-bootstrap broker hash --api-key < site-a\.key$/,
    'test/unit/cli/broker.test.ts',
    "cli(['broker', 'hash', '--api-key']",
  ],
  [
    /^poller-bootstrap broker hash < password\.txt$/,
    'test/unit/cli/broker.test.ts',
    "cli(['broker', 'hash']",
  ],
  [
    /^poller-bootstrap join-token --register-downstream --downstream-spiffe-id \S+ --selector \S+ --prune --output \S+$/,
    'test/e2e/join-token.test.ts',
    "register(['--prune'])",
  ],
];

const docs = readdirSync(`${ROOT}docs`).filter((f) => f.endsWith('.md'));
const read = (path: string) => readFileSync(`${ROOT}${path}`, 'utf8');

function shCommands(text: string): string[] {
  return [...text.matchAll(/^( *)```sh\n([\s\S]*?)^\1```$/gm)].flatMap((m) =>
    (m[2] as string)
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '' && !l.startsWith('#')),
  );
}

describe('docs', () => {
  it('are all there', () => {
    expect(docs.sort()).toEqual([
      'BENCHMARKS.md',
      'architecture.md',
      'broker.md',
      'compose.md',
      'install.md',
      're-enrol.md',
      'troubleshooting.md',
      'upgrade-spire.md',
    ]);
  });

  it.each(docs)('%s: every command is one a test runs', (doc) => {
    for (const command of shCommands(read(`docs/${doc}`))) {
      const by = RUN_BY.filter(([re]) => re.test(command));
      expect(by.length, `${doc}: no test runs \`${command}\``).toBe(1);
      const [, file, needle] = by[0] as [RegExp, string, string];
      expect(read(file), `${file} runs \`${command}\``).toContain(needle);
    }
  });

  it('are linked from the README, which names no file outside the repository', () => {
    const readme = read('README.md');
    for (const doc of docs) expect(readme).toContain(`docs/${doc}`);
    expect(readme).not.toMatch(/\.\.\//);
  });

  it('explain every cause code /status can report', () => {
    const table = read('docs/troubleshooting.md');
    const codes = [
      ...CAUSE_CODES,
      ...CHILD_FAILURE_REASONS,
      ...TOKEN_RESULTS.filter((r) => !['success', 'empty', 'rate-limited', 'failure'].includes(r)),
      'token-limit',
      'identity-corrupt',
      'no-token',
      'config',
      'io',
      'protocol',
      'internal',
    ];
    for (const code of codes) expect(table, code).toContain(`\`${code}\``);
  });
});
