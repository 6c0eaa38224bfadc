/** Starts a real jpipd server on 127.0.0.1 (random port) over a folder, for integration tests. */
import type { ChildProcessByStdio, ChildProcessWithoutNullStreams } from 'node:child_process';
import type { Readable } from 'node:stream';
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

/** The URL from a `jpipd serve` child's "listening" log line; `logs()` returns its stdout so far. */
export function listeningUrl(child: ChildProcessWithoutNullStreams | ChildProcessByStdio<null, Readable, Readable>, timeoutMs = 30_000): { url: Promise<string>; logs: () => string } {
  let out = '';
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  const url = new Promise<string>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no listening line; stderr: ${err}`)), timeoutMs);
    child.stdout.on('data', (d) => {
      out += d;
      const line = out.split('\n').find((l) => l.includes('"listening"'));
      if (line) {
        clearTimeout(t);
        resolve(JSON.parse(line).url);
      }
    });
  });
  return { url, logs: () => out };
}
