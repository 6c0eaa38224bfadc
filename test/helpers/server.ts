/** Starts a real jpipd server on 127.0.0.1 (random port) over a folder, for integration tests. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startServer, type RunningServer, type ServerOptions } from '../../src/server/server.js';

/** The committed fixtures folder. */
export const FIXTURES = path.resolve(import.meta.dirname, '../fixtures');

/** A running test server plus its base URL; `stop()` closes it and removes its cache dir. */
export interface TestServer extends RunningServer {
  base: string;
  cacheDir: string;
  stop(): Promise<void>;
}

/** Starts a server on FIXTURES (or `root`) with 2 worker threads and a fresh index cache dir. */
export async function startTestServer(opts: Partial<ServerOptions> = {}): Promise<TestServer> {
  const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'jpipd-test-cache-'));
  const server = await startServer({ root: FIXTURES, host: '127.0.0.1', port: 0, threads: 2, cacheDir, ...opts });
  return {
    ...server,
    base: `http://127.0.0.1:${server.port}`,
    cacheDir,
    async stop() {
      await server.close();
      fs.rmSync(cacheDir, { recursive: true, force: true });
    },
  };
}
