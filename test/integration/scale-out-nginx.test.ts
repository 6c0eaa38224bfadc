/**
 * Scale-out through a real nginx (issue 10, item 4): the shipped docs/deploy/nginx.conf, with its
 * ports rewritten, in front of two `jpipd serve --node n1|n2 --trust-proxy` processes on 127.0.0.1.
 * Channels opened through the proxy land on both nodes; each is continued over new connections,
 * by its path (jpip/<node>) and by cid= alone, over HTTP and over WebSocket, and every response is
 * byte-identical to the same requests sent to one node directly; HTTP/1.0 clients without Host are
 * answered through the proxy. When a node stops, its channels
 * get 404 from the backup node and new channels open on the node left. Skipped (with the reason)
 * when nginx is not installed (Debian: apt-get install nginx-light).
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcessByStdio } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { FIXTURES, listeningUrl, startTestServer } from '../helpers/server.js';

const REPO = path.resolve(import.meta.dirname, '../..');
const ENTRY = path.join(REPO, 'src/cli/entry.ts');
const IMAGE = 'gray1000-rpcl-p64-l4.j2k';

function findNginx(): string | null {
  for (const p of ['/usr/sbin/nginx', '/usr/bin/nginx', '/usr/local/sbin/nginx']) if (fs.existsSync(p)) return p;
  const r = spawnSync('sh', ['-c', 'command -v nginx'], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.trim() ? r.stdout.trim() : null;
}
const NGINX = findNginx();

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

interface Got {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** One GET on a fresh connection (so the proxy, not a kept-alive connection, picks the node). */
function get(port: number, target: string, headers: Record<string, string> = {}): Promise<Got> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: target, agent: false, headers: { Connection: 'close', ...headers } }, (res) => {
        const parts: Buffer[] = [];
        res.on('data', (d: Buffer) => parts.push(d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts) }));
      })
      .on('error', reject);
  });
}

/** `cid` and `path` of a JPIP-cnew header. */
function cnewOf(r: Got): { cid: string; path: string } {
  const v = String(r.headers['jpip-cnew'] ?? '');
  const f = Object.fromEntries(v.split(',').map((kv) => kv.split('=') as [string, string]));
  assert.ok(f.cid && f.path, `JPIP-cnew: ${v}`);
  return { cid: f.cid, path: f.path };
}

/** The windows each channel asks for after opening (small len: several responses per window). */
const WINDOWS = ['fsiz=250,250&rsiz=250,250', 'fsiz=500,500&roff=100,100&rsiz=200,200', 'fsiz=1000,1000&roff=300,200&rsiz=256,256'];
const OPEN = `/${IMAGE}?cnew=http&type=jpp-stream&tid=0&fsiz=125,125&len=3000`;

type Node = { name: string; port: number; child: ChildProcessByStdio<null, Readable, Readable>; exited: Promise<unknown> };

async function startNode(name: string, port: number, cacheDir: string): Promise<Node> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', ENTRY, 'serve', '--root', FIXTURES, '--host', '127.0.0.1', '--port', String(port), '--node', name, '--trust-proxy', '--threads', '1', '--pool-threads', '1', '--cache-dir', cacheDir],
    { stdio: ['ignore', 'pipe', 'pipe'], cwd: REPO },
  );
  const exited = new Promise((resolve) => child.once('exit', resolve));
  await listeningUrl(child).url;
  return { name, port, child, exited };
}

async function stopNode(n: Node): Promise<void> {
  if (n.child.exitCode === null && n.child.signalCode === null) n.child.kill('SIGTERM');
  await n.exited;
}

describe('scale-out: two nodes behind nginx', { skip: NGINX ? false : 'nginx is not installed (apt-get install nginx-light)' }, () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jpipd-nginx-'));
  const nodes: Node[] = [];
  let proxy: ChildProcessByStdio<null, Readable, Readable> | undefined;
  let proxyExited: Promise<unknown> | undefined;
  let proxyPort = 0;

  before(async () => {
    const [p1, p2] = [await freePort(), await freePort()];
    proxyPort = await freePort();
    nodes.push(...(await Promise.all([startNode('n1', p1, path.join(dir, 'c1')), startNode('n2', p2, path.join(dir, 'c2'))])));
    // The shipped configuration with this run's ports, inside a minimal main configuration.
    const site = fs
      .readFileSync(path.join(REPO, 'docs/deploy/nginx.conf'), 'utf8')
      .replaceAll('127.0.0.1:8091', `127.0.0.1:${p1}`)
      .replaceAll('127.0.0.1:8092', `127.0.0.1:${p2}`)
      .replace(/listen 8090;/, `listen 127.0.0.1:${proxyPort};`);
    assert.notEqual(site.indexOf(`listen 127.0.0.1:${proxyPort};`), -1, 'the shipped configuration listens on 8090');
    fs.writeFileSync(path.join(dir, 'jpipd.conf'), site);
    const temp = (n: string): string => path.join(dir, n);
    fs.writeFileSync(
      path.join(dir, 'nginx.conf'),
      [
        'daemon off;',
        'worker_processes 1;',
        `pid ${temp('nginx.pid')};`,
        `error_log ${temp('error.log')} warn;`,
        'events { worker_connections 256; }',
        'http {',
        '  access_log off;',
        `  client_body_temp_path ${temp('body')};`,
        `  proxy_temp_path ${temp('proxy')};`,
        `  fastcgi_temp_path ${temp('fastcgi')};`,
        `  uwsgi_temp_path ${temp('uwsgi')};`,
        `  scgi_temp_path ${temp('scgi')};`,
        `  include ${temp('jpipd.conf')};`,
        '}',
      ].join('\n'),
    );
    proxy = spawn(NGINX as string, ['-p', dir, '-c', path.join(dir, 'nginx.conf')], { stdio: ['ignore', 'pipe', 'pipe'] });
    proxyExited = new Promise((resolve) => proxy?.once('exit', resolve));
    for (let i = 0; ; i++) {
      const ok = await get(proxyPort, '/healthz').then(
        (r) => r.status === 200,
        () => false,
      );
      if (ok) break;
      if (i > 100 || proxy.exitCode !== null) throw new Error(`nginx did not start: ${fs.existsSync(temp('error.log')) ? fs.readFileSync(temp('error.log'), 'utf8') : ''}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  });

  after(async () => {
    if (proxy && proxy.exitCode === null) proxy.kill('SIGQUIT');
    await proxyExited;
    await Promise.all(nodes.map(stopNode));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Every response of one channel: open, then each window until the image or window is done. */
  async function session(port: number, via: (cid: string, path: string, round: number) => string): Promise<{ cid: string; path: string; tid: string; bodies: Buffer[] }> {
    const opened = await get(port, OPEN);
    assert.equal(opened.status, 200);
    const { cid, path: cpath } = cnewOf(opened);
    const bodies = [opened.body];
    let round = 0;
    for (const w of WINDOWS) {
      for (;;) {
        const r = await get(port, `${via(cid, cpath, round++)}?cid=${cid}&${w}&len=6000`);
        assert.equal(r.status, 200, `${cid} round ${round}: ${r.body.toString('latin1').slice(0, 80)}`);
        bodies.push(r.body);
        // EOR 1 (image done) or 2 (window done) ends the window.
        const b = r.body;
        if (b.length >= 3 && b[b.length - 3] === 0 && (b[b.length - 2] === 1 || b[b.length - 2] === 2)) break;
        assert.ok(round < 200, 'the window completes');
      }
    }
    return { cid, path: cpath, tid: String(opened.headers['jpip-tid']), bodies };
  }

  it('channels land on both nodes, stay there over new connections, and carry the bytes of one node', { timeout: 120_000 }, async () => {
    // Six channels through the proxy: continued by path and by cid alone, alternately.
    const runs = [];
    for (let i = 0; i < 6; i++) {
      runs.push(await session(proxyPort, (cid, cpath, round) => (round % 2 === 0 ? `/${cpath}` : i % 2 === 0 ? '/jpip' : `/${IMAGE}`)));
    }
    const seen = new Set<string>();
    for (const r of runs) {
      const m = /^(n[12])\.[0-9a-f]{32}$/.exec(r.cid);
      assert.ok(m, `cid ${r.cid} names its node`);
      assert.equal(r.path, `jpip/${m[1]}`, 'the channel path names the same node');
      seen.add(m[1]);
      // The other node never heard of it.
      const other = nodes.find((n) => n.name !== m[1]) as Node;
      const r404 = await get(other.port, `/jpip?cid=${r.cid}&fsiz=125,125&len=100`);
      assert.equal(r404.status, 404);
      assert.match(r404.body.toString(), /^ERR_UNKNOWN_CHANNEL/);
    }
    assert.deepEqual([...seen].sort(), ['n1', 'n2'], 'new channels are balanced over both nodes');
    // The same requests sent to one node directly give the same bytes, response by response.
    const direct = await session(nodes[0].port, (_cid, cpath) => `/${cpath}`);
    for (const r of runs) {
      assert.equal(r.tid, direct.tid, 'one target id on every node (same path, size, mtime)');
      assert.equal(r.bodies.length, direct.bodies.length, 'same number of responses');
      r.bodies.forEach((b, k) => assert.ok(b.equals(direct.bodies[k]), `response ${k} of ${r.cid} equals the single node's`));
    }
  });

  it('a WebSocket channel continues on a new socket at /jpip-ws/<node>', { timeout: 60_000 }, async () => {
    const exchange = async (url: string, request: string): Promise<{ head: { status: number; headers: Record<string, string> }; body: Buffer }> => {
      const ws = new WebSocket(url);
      await new Promise((resolve, reject) => {
        ws.once('open', resolve);
        ws.once('error', reject);
      });
      const got: Array<string | Buffer> = [];
      const done = new Promise<void>((resolve) => ws.on('message', (m: Buffer, isBinary: boolean) => (got.push(isBinary ? m : m.toString()), got.length === 2 && resolve())));
      ws.send(request);
      await done;
      ws.close();
      return { head: JSON.parse(got[0] as string), body: got[1] as Buffer };
    };
    const opened = await exchange(`ws://127.0.0.1:${proxyPort}/jpip-ws`, OPEN);
    assert.equal(opened.head.status, 200);
    const [, cid, node] = /cid=((n[12])\.[0-9a-f]{32}),path=jpip\/n[12],/.exec(opened.head.headers['JPIP-cnew']) ?? [];
    assert.ok(cid, opened.head.headers['JPIP-cnew']);
    for (let i = 0; i < 3; i++) {
      const r = await exchange(`ws://127.0.0.1:${proxyPort}/jpip-ws/${node}`, `/jpip/${node}?cid=${cid}&${WINDOWS[0]}&len=2000`);
      assert.equal(r.head.status, 200, `continuation ${i} on a new socket`);
      assert.ok(r.body.length > 0);
    }
  });

  it('answers HTTP/1.0 clients without Host (which uWebSockets.js alone leaves unanswered)', { timeout: 30_000 }, async () => {
    const raw = await new Promise<string>((resolve, reject) => {
      const s = net.connect(proxyPort, '127.0.0.1', () => s.write(`GET /${IMAGE}?type=jpp-stream&fsiz=125,125&len=500 HTTP/1.0\r\n\r\n`));
      let buf = '';
      s.on('data', (d: Buffer) => (buf += d.toString('latin1')));
      s.on('close', () => resolve(buf));
      s.on('error', reject);
      s.setTimeout(10_000, () => s.destroy(new Error('no answer')));
    });
    assert.match(raw, /^HTTP\/1\.[01] 200 /);
    assert.match(raw, /\r\nContent-Type: image\/jpp-stream\r\n/i);
    const body = raw.slice(raw.indexOf('\r\n\r\n') + 4);
    assert.ok(body.length > 0 && body.length <= 500 + 3, `a JPP body within len (${body.length} bytes)`);
  });

  it('when a node stops, its channels get 404 and new channels open on the other', { timeout: 60_000 }, async () => {
    const byNode = new Map<string, string>();
    for (let i = 0; i < 10 && byNode.size < 2; i++) {
      const r = await get(proxyPort, OPEN);
      assert.equal(r.status, 200);
      const { cid } = cnewOf(r);
      byNode.set(cid.slice(0, 2), cid);
    }
    assert.equal(byNode.size, 2, 'one channel on each node');
    const gone = nodes[1];
    await stopNode(gone);
    const orphan = byNode.get(gone.name) as string;
    const lost = await get(proxyPort, `/jpip/${gone.name}?cid=${orphan}&fsiz=125,125&len=100`);
    assert.equal(lost.status, 404, 'the backup node does not know the channel');
    assert.match(lost.body.toString(), /^ERR_UNKNOWN_CHANNEL/);
    const alive = byNode.get(nodes[0].name) as string;
    assert.equal((await get(proxyPort, `/jpip?cid=${alive}&fsiz=125,125&len=100`)).status, 200, 'the other node keeps its channels');
    for (let i = 0; i < 3; i++) {
      const r = await get(proxyPort, OPEN);
      assert.equal(r.status, 200);
      assert.match(cnewOf(r).cid, /^n1\./, 'new channels open on the node left');
    }
  });
});

describe('--trust-proxy', () => {
  it('the per-client session limit counts the X-Forwarded-For address, and only when trusted', { timeout: 60_000 }, async () => {
    const live = async (port: number, cid: string): Promise<boolean> => (await get(port, `/jpip?cid=${cid}&fsiz=125,125&len=100`)).status === 200;
    const open = async (port: number, xff: string): Promise<string> => {
      const r = await get(port, OPEN, { 'X-Forwarded-For': xff });
      assert.equal(r.status, 200);
      return cnewOf(r).cid;
    };
    // One session per client: a client's second session ends its first.
    const trusted = await startTestServer({ threads: 1, trustProxy: true, sessionLimits: { maxSessionsPerClient: 1 } });
    try {
      const a = await open(trusted.port, '198.51.100.7');
      const b = await open(trusted.port, '203.0.113.9, 198.51.100.8');
      assert.ok((await live(trusted.port, a)) && (await live(trusted.port, b)), 'two forwarded clients, one session each');
      const a2 = await open(trusted.port, '192.0.2.1, 198.51.100.7');
      assert.equal(await live(trusted.port, a), false, "the same forwarded client's second session replaced its first");
      assert.ok((await live(trusted.port, a2)) && (await live(trusted.port, b)));
    } finally {
      await trusted.stop();
    }
    const untrusted = await startTestServer({ threads: 1, sessionLimits: { maxSessionsPerClient: 1 } });
    try {
      const a = await open(untrusted.port, '198.51.100.7');
      await open(untrusted.port, '203.0.113.9');
      assert.equal(await live(untrusted.port, a), false, 'without --trust-proxy the header is ignored: one peer, one session');
    } finally {
      await untrusted.stop();
    }
  });
});
