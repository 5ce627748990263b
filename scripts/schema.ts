// npm run schema: writes the configuration's JSON Schema (from the loader's own decoders) where packages and
// editors find it; a test fails while the committed file is stale.
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { configJsonSchema } from '../src/config/json-schema.js';

export const SCHEMA_FILE = fileURLToPath(
  new URL('../../packaging/poller-bootstrap.schema.json', import.meta.url),
);

writeFileSync(SCHEMA_FILE, `${JSON.stringify(configJsonSchema(), null, 2)}\n`);
process.stdout.write(`wrote ${SCHEMA_FILE}\n`);
