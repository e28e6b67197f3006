#!/usr/bin/env node
// The `condense` command. This file is committed, not built, so that npm links it when it
// installs the workspace, before `npm run build` has created dist/.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const built = fileURLToPath(new URL('../dist/index.js', import.meta.url));
if (!existsSync(built)) {
  process.stderr.write(`condense: ${built} does not exist; run \`npm run build\` first\n`);
  process.exit(1);
}
const { main } = await import('../dist/index.js');
process.exitCode = await main(process.argv.slice(2));
