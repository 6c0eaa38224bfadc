/**
 * HTTPS and WSS (JHelioviewer's jpips://): every front end is a uWebSockets.js SSLApp with the
 * certificate and key given. The self-signed certificate is made here with openssl; the client trusts
 * exactly that certificate (no verification is turned off).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as https from 'node:https';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { parseJppStream } from '../../src/client/jpp-parser.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let dir: string;
let srv: TestServer;
let ca: Buffer;

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jpipd-tls-'));
  const key = path.join(dir, 'key.pem');
  const cert = path.join(dir, 'cert.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'], { stdio: 'ignore' });
  ca = fs.readFileSync(cert);
  srv = await startTestServer({ tls: { cert, key }, threads: 2, minThreads: 2 });
});
after(async () => {
  await srv.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

function get(url: string): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    https
      .get(url, { ca }, (res) => {
        const parts: Buffer[] = [];
        res.on('data', (d: Buffer) => parts.push(d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts) }));
      })
      .on('error', reject);
  });
}

describe('TLS', () => {
  it('serves JPIP over HTTPS on every front end (a channel, then a window on it)', async () => {
    const port = srv.port;
    const open = await get(`https://127.0.0.1:${port}/rgb96.jp2?cnew=http&type=jpp-stream&fsiz=96,64&len=2000`);
    assert.equal(open.status, 200);
    const cid = /cid=([0-9a-f]+)/.exec(String(open.headers['jpip-cnew']))?.[1];
    assert.ok(cid);
    const more = await get(`https://127.0.0.1:${port}/jpip?cid=${cid}&fsiz=96,64`);
    assert.equal(more.status, 200);
    const events = parseJppStream(new Uint8Array(more.body));
    const last = events[events.length - 1];
    assert.ok(last.kind === 'eor' && (last.reason === 1 || last.reason === 2));
    assert.equal(srv.fronts.count, 2, 'two TLS front ends share the port');
  });

  it('refuses plain HTTP on the TLS port and an untrusted certificate is rejected by the client', async () => {
    await assert.rejects(
      new Promise((resolve, reject) => https.get(`https://127.0.0.1:${srv.port}/rgb96.jp2?fsiz=8,8&len=10`, resolve).on('error', reject)),
      /self.signed|certificate/i,
    );
    const plain = await fetch(`http://127.0.0.1:${srv.port}/rgb96.jp2?fsiz=8,8&len=10`).then(
      (r) => r.status,
      () => -1,
    );
    assert.notEqual(plain, 200);
  });

  it('serves the WebSocket transport over WSS', async () => {
    const ws = new WebSocket(`wss://127.0.0.1:${srv.port}/jpip-ws`, { ca });
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    const reply = new Promise<{ status: number; bytes: number }>((resolve) => {
      let status = 0;
      ws.on('message', (d, isBinary) => {
        if (!isBinary) status = JSON.parse(d.toString()).status;
        else resolve({ status, bytes: (d as Buffer).length });
      });
    });
    ws.send('/rgb96.jp2?fsiz=48,32&len=500');
    const r = await reply;
    assert.equal(r.status, 200);
    assert.ok(r.bytes > 0);
    ws.close();
  });
});
