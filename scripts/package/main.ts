// `npm run package`: everything into dist/pkg/ — the single executable, the .deb, the .rpm and the image's
// build context. Needs cc, strip, dpkg-deb and rpmbuild (.ci/run installs them with apt-get).

import { buildDeb } from './deb.js';
import { executable } from './executable.js';
import { imageContext } from './image.js';
import { buildRpm } from './rpm.js';

await executable();
buildDeb();
buildRpm();
imageContext();
