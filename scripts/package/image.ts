// The container image's build context: `docker build dist/pkg/image` (no engine here: built elsewhere).

import { chmodSync, copyFileSync, mkdirSync, rmSync } from 'node:fs';
import { EXECUTABLE, OUT, ROOT } from './paths.js';

export const IMAGE_CONTEXT = `${OUT}image/`;

/** Copies the Dockerfile, its config and the executable into dist/pkg/image/. */
export function imageContext(): string {
  rmSync(IMAGE_CONTEXT, { recursive: true, force: true });
  mkdirSync(IMAGE_CONTEXT, { recursive: true });
  copyFileSync(`${ROOT}packaging/docker/Dockerfile`, `${IMAGE_CONTEXT}Dockerfile`);
  copyFileSync(`${ROOT}packaging/docker/poller-bootstrap.json`, `${IMAGE_CONTEXT}poller-bootstrap.json`);
  copyFileSync(EXECUTABLE, `${IMAGE_CONTEXT}poller-bootstrap`);
  chmodSync(`${IMAGE_CONTEXT}poller-bootstrap`, 0o755);
  process.stdout.write(`image context: ${IMAGE_CONTEXT}\n`);
  return IMAGE_CONTEXT;
}
