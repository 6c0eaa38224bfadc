/**
 * Serve configuration: command line over JPIPD_* environment over a --config JSON file over the
 * defaults, with clear errors for unknown or ill-typed options; `jpipd config --print` prints the
 * effective result (a child process).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { UsageError } from '../../src/cli/args.js';
import { resolveServeConfig, serveOptions } from '../../src/cli/main.js';
import { FIXTURES } from '../helpers/server.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jpipd-config-'));
const file = (name: string, data: unknown): string => {
  const p = path.join(dir, name);
  fs.writeFileSync(p, typeof data === 'string' ? data : JSON.stringify(data));
  return p;
};

test('command line over environment over config file over defaults', () => {
  const cfg = file('a.json', { root: FIXTURES, port: 9001, 'max-sessions': 500, 'no-listing': true, 'log-level': 'warn' });
  const only = resolveServeConfig(serveOptions(['--config', cfg], {}));
  assert.deepEqual([only.port, only.maxSessions, only.listing, only.logLevel, only.host], [9001, 500, false, 'warn', '127.0.0.1']);
  const env = { JPIPD_PORT: '9002', JPIPD_NO_LISTING: '0', JPIPD_MAX_SESSIONS: '600', JPIPD_FUZZ_RUNS: '7' };
  const withEnv = resolveServeConfig(serveOptions(['--config', cfg], env));
  assert.deepEqual([withEnv.port, withEnv.maxSessions, withEnv.listing, withEnv.logLevel], [9002, 600, true, 'warn'], 'environment over the file; unrelated JPIPD_ variables ignored');
  const withCli = resolveServeConfig(serveOptions(['--config', cfg, '--port', '9003'], env));
  assert.deepEqual([withCli.port, withCli.maxSessions], [9003, 600], 'command line over both');
  const viaEnvFile = resolveServeConfig(serveOptions([], { JPIPD_CONFIG: cfg }));
  assert.equal(viaEnvFile.port, 9001, 'JPIPD_CONFIG names the file');
  const defaults = resolveServeConfig(serveOptions(['--root', FIXTURES], {}));
  assert.deepEqual([defaults.port, defaults.maxSessions, defaults.listing, defaults.keepAliveS], [8090, 10_000, true, 10]);
});

test('clear errors: unknown options, wrong types, bad values, unreadable files', () => {
  const bad = (argv: string[], env: NodeJS.ProcessEnv, re: RegExp): void =>
    assert.throws(() => resolveServeConfig(serveOptions(argv, env)), (e: unknown) => e instanceof UsageError && re.test(e.message));
  bad(['--config', file('b.json', { root: FIXTURES, prot: 1 })], {}, /unknown option prot/);
  bad(['--config', file('c.json', { root: FIXTURES, port: [1] })], {}, /port must be a string or a number/);
  bad(['--config', file('d.json', { root: FIXTURES, 'no-listing': 'yes' })], {}, /no-listing must be true or false/);
  bad(['--config', file('e.json', '{ not json')], {}, /--config .*e\.json: /);
  bad(['--config', file('f.json', [1, 2])], {}, /must be a JSON object/);
  bad(['--config', path.join(dir, 'missing.json')], {}, /missing\.json/);
  bad(['--root', FIXTURES], { JPIPD_PORT: 'many' }, /--port must be a whole number/);
  bad(['--root', FIXTURES], { JPIPD_NO_LISTING: 'maybe' }, /JPIPD_NO_LISTING must be 1 or 0/);
  bad(['--root', FIXTURES, '--node', 'Node-2'], {}, /--node must be 1-16 lowercase letters and digits/);
  bad(['--root', FIXTURES], { JPIPD_NODE: 'n.1' }, /--node must be/);
  // The command line itself (util.parseArgs, strict).
  bad(['--root', FIXTURES, '--prot', '1'], {}, /Unknown option '--prot'/);
  bad(['--root', FIXTURES, '--no-listing=yes'], {}, /--no-listing/);
  bad(['--root', FIXTURES, '--port'], {}, /--port/);
  bad(['--root', FIXTURES, '--port='], {}, /--port needs a value/);
  bad(['--root', FIXTURES, 'extra'], {}, /unexpected argument extra/);
});

test('scale-out options: a node name and trusting the proxy, from any source', () => {
  const c = resolveServeConfig(serveOptions(['--root', FIXTURES], { JPIPD_NODE: 'n2', JPIPD_TRUST_PROXY: '1' }));
  assert.deepEqual([c.node, c.trustProxy], ['n2', true]);
  const d = resolveServeConfig(serveOptions(['--root', FIXTURES]));
  assert.deepEqual([d.node, d.trustProxy], [null, false]);
});

test('jpipd config --print shows the effective configuration', () => {
  const cfg = file('g.json', { root: FIXTURES, port: 9100 });
  const entry = path.resolve(import.meta.dirname, '../../src/cli/entry.ts');
  const r = spawnSync(process.execPath, ['--import', 'tsx', entry, 'config', '--print', '--config', cfg, '--threads', '1'], {
    encoding: 'utf8',
    env: { ...process.env, JPIPD_MAX_SESSIONS: '42' },
  });
  assert.equal(r.status, 0, r.stderr);
  const shown = JSON.parse(r.stdout);
  assert.deepEqual([shown.port, shown.threads, shown.maxSessions, shown.root], [9100, 1, 42, fs.realpathSync(FIXTURES)]);
  const bad = spawnSync(process.execPath, ['--import', 'tsx', entry, 'config', '--print', '--config', file('h.json', { nope: 1 })], { encoding: 'utf8' });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /^jpipd: --config .*: unknown option nope\n/);
});
