// The protos as one protobuf.js JSON document, for the bundle: the executable then needs no proto/ folder.

import protobuf from 'protobufjs';
import { PROTO_DIR, PROTO_FILES } from '../../src/spire/proto.js';

/** Parses the project's .proto files exactly as src/spire/proto.ts loads them (keepCase) and returns their JSON. */
export function protoJson(dir: string = PROTO_DIR): object {
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => `${dir}${target}`;
  root.loadSync(PROTO_FILES, { keepCase: true });
  return root.toJSON();
}
