/** Process entry of the jpipd CLI: runs the command and sets the exit code (bin/jpipd.js loads this). */
import { runCli } from './main.js';

process.exitCode = await runCli(process.argv.slice(2));
