#!/usr/bin/env node
// The `poller-bootstrap` executable (package.json bin → dist/src/cli/main.js); all logic lives in cli.ts.

import { main } from './cli.js';

process.exitCode = await main(process.argv.slice(2));
