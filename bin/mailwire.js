#!/usr/bin/env node
// Plain-JS entry so `node bin/mailwire.js` works after `npm ci` (which runs `prepare`, the TypeScript build).
import { main } from '../dist/src/cli/main.js';

main(process.argv).catch((error) => {
  console.error(error instanceof Error ? error.message : String(error));
  process.exitCode = 1;
});
