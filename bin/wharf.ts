#!/usr/bin/env node
// Loaded up front is only what a build on a running build server needs: a socket client. Everything
// else, and any build the server cannot take, runs in this process (cli.ts).
import { buildOnServer } from '../builder/server/build-client.js';

const argv = process.argv.slice(2);
const served = argv[0] === 'build' ? await buildOnServer(argv.slice(1)) : undefined;
process.exitCode = served ?? (await (await import('./cli.js')).main(argv));
