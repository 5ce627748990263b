// The single executable's entry point. Node 20 runs a SEA's main script as CommonJS, which has no top-level
// await, so this is src/cli/main.ts without it.

import { main } from '../../src/cli/cli.js';

void main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
