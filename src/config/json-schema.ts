// The published JSON Schema of the daemon's configuration, generated from the decoders the loader runs
// (src/config/schema.ts), so the two cannot drift: `npm run schema` writes packaging/poller-bootstrap.schema.json.
import type { JsonSchema } from './decode.js';
import { decodeFile } from './schema.js';

export function configJsonSchema(): JsonSchema {
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: 'urn:poller-bootstrap:config',
    title: 'poller-bootstrap configuration',
    description:
      'The JSON configuration of `poller-bootstrap run` (default /etc/serviceradar/poller-bootstrap.json). ' +
      'Unknown keys are errors; POLLER_BOOTSTRAP_* environment variables override keys.',
    ...decodeFile.schema,
  };
}
