/**
 * Requests whose channel belongs to another front-end thread are forwarded to it: sessions live on
 * the thread that opened them (the channel id names it), and clients that spread one channel over
 * several connections — browsers' connection pools — may reach any thread. The owner produces the
 * reply with its own service and sends it back whole (a copy, bounded by the response cap); the
 * receiving thread writes it. Each pair of front ends shares one MessageChannel.
 */
import type { MessagePort } from 'node:worker_threads';
import { JpipdError } from '../errors.js';
import { collect, type IncomingRequest, type JpipService, type Reply } from './service.js';

type Wire = { status: number; statusText: string; headers: Array<readonly [string, string]>; body: Uint8Array; log: Record<string, unknown> };
type Msg =
  | { op: 'req'; id: number; inc: IncomingRequest }
  | { op: 'res'; id: number; reply: Wire }
  /** The receiver wrote the reply (done) or could not deliver it (lost: the owner ends the channel). */
  | { op: 'done' | 'lost'; id: number };

/** This thread's links to the other front ends. */
export class Forwarder {
  private readonly peers = new Map<number, MessagePort>();
  private readonly pending = new Map<number, (r: Reply) => void>();
  /** Replies this thread produced for others, by peer and id, until the receiver has them. */
  private readonly sent = new Map<MessagePort, Map<number, Reply>>();

  private sentTo(port: MessagePort): Map<number, Reply> {
    let m = this.sent.get(port);
    if (!m) this.sent.set(port, (m = new Map()));
    return m;
  }
  private seq = 0;
  private service: JpipService | null = null;

  /** The service that answers requests forwarded to this thread. */
  serve(service: JpipService): void {
    this.service = service;
  }

  /** Links front end `n` through `port`. */
  addPeer(n: number, port: MessagePort): void {
    this.peers.set(n, port);
    port.on('message', (m: Msg) => this.onMessage(port, m));
    port.unref();
  }

  /** Drops the link to front end `n` (it ended); its pending requests fail. */
  removePeer(n: number): void {
    this.peers.get(n)?.close();
    this.peers.delete(n);
  }

  /** Sends `inc` to front end `n` and resolves with its reply. */
  forward(n: number, inc: IncomingRequest): Promise<Reply> {
    const port = this.peers.get(n);
    if (!port) return Promise.reject(new JpipdError('ERR_UNKNOWN_CHANNEL', 'unknown or closed channel'));
    const id = ++this.seq;
    return new Promise<Reply>((resolve) => {
      this.pending.set(id, resolve);
      port.postMessage({ op: 'req', id, inc } satisfies Msg);
    });
  }

  private onMessage(port: MessagePort, m: Msg): void {
    if (m.op === 'res') {
      const done = this.pending.get(m.id);
      this.pending.delete(m.id);
      const w = m.reply;
      let told = false;
      const tell = (op: 'done' | 'lost'): void => {
        if (told) return;
        told = true;
        port.postMessage({ op, id: m.id } satisfies Msg);
      };
      // The transport writes the (whole) proxy reply in the callback of this promise; after that, the
      // owner may forget its copy unless the write found the client gone (then 'lost' went first).
      setImmediate(() => tell('done'));
      done?.({ ...w, more: false, length: w.body.length, next: () => new Uint8Array(0), undelivered: () => tell('lost'), log: w.log });
      return;
    }
    if (m.op !== 'req') {
      const r = this.sentTo(port).get(m.id);
      this.sentTo(port).delete(m.id);
      if (m.op === 'lost') r?.undelivered();
      return;
    }
    const service = this.service;
    if (!service) return;
    void collect(service.handle(m.inc)).then((r) => {
      this.sentTo(port).set(m.id, r);
      const reply: Wire = { status: r.status, statusText: r.statusText, headers: r.headers, body: r.body, log: { ...r.log, forwarded: true } };
      port.postMessage({ op: 'res', id: m.id, reply } satisfies Msg, [r.body.buffer as ArrayBuffer]);
    });
  }

  /** Closes every link. */
  close(): void {
    for (const p of this.peers.values()) p.close();
    this.peers.clear();
  }
}
