import { main } from './verify-cli.ts';

/** tessera-audit (bin/tessera-audit.js): the offline verifier. */
process.exitCode = await main(process.argv.slice(2));
