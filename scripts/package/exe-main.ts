// `npm run package:exe`: only the single executable (what the packaged e2e test needs), no deb/rpm/image.

import { executable } from './executable.js';

await executable();
