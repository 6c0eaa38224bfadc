/**
 * What a worker-thread front end needs from the main thread, over MessagePorts:
 *
 *   - the index registry, synchronously (RegistryLink.table): a front end must answer a request in
 *     its handler, so it posts the call and sleeps on a shared word until the main thread has posted
 *     the reply, then takes it with receiveMessageOnPort. Asked once per codestream and thread.
 *   - the worker pool, asynchronously (PoolLink): heavy work is rare and already asynchronous.
 *   - logs, batched (LogLink), so that one thread writes the log stream.
 *
 * The main thread answers with `hostLinks`. Sequence of a registry call:
 *
 *   front end                              main thread
 *   Atomics.store(word, 0)
 *   rpc.postMessage({id, table…})  ───►    registry.table(…)
 *   Atomics.wait(word, 0, limit)           rpc.postMessage({id, sab})   (queued on the port first)
 *                                  ◄───    Atomics.store(word, id); Atomics.notify(word)
 *   receiveMessageOnPort(rpc)  → {id, sab}
 */
import { receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import { fromErrorData, JpipdError, toErrorData, type ErrorData } from '../errors.js';
import type { IndexRegistry, IndexTables } from '../packet-index/registry.js';
import type { IndexResult, IndexTask, OpenResult, OpenTask } from '../pool/messages.js';
import type { WorkerPool } from '../pool/pool.js';

/** How long a front end waits for the main thread to answer a registry call. */
export const REGISTRY_CALL_MS = 5000;

/** The heavy work a front end hands over (the pool on the main thread, a PoolLink elsewhere). */
export interface HeavyWork {
  open(task: OpenTask): Promise<OpenResult>;
  index(task: IndexTask): Promise<IndexResult>;
}

type RegistryCall = { id: number; op: 'table'; key: string; cs: number; slots: number } | { op: 'acquire' | 'release' | 'retire'; key: string };
type RegistryReply = { id: number; sab?: SharedArrayBuffer; error?: ErrorData };
type PoolCall = { id: number; task: OpenTask | IndexTask };
type PoolReply = { id: number; result?: OpenResult | IndexResult; error?: ErrorData };

/** The registry as seen from a worker thread. */
export class RegistryLink implements IndexTables {
  private seq = 0;

  constructor(
    private readonly rpc: MessagePort,
    private readonly word: Int32Array,
  ) {}

  table(key: string, cs: number, slots: number): SharedArrayBuffer {
    const id = ++this.seq;
    Atomics.store(this.word, 0, 0);
    this.rpc.postMessage({ id, op: 'table', key, cs, slots } satisfies RegistryCall);
    const deadline = performance.now() + REGISTRY_CALL_MS;
    for (;;) {
      const seen = Atomics.load(this.word, 0);
      if (seen === id) break;
      const left = deadline - performance.now();
      if (left <= 0) throw new JpipdError('ERR_BUSY', 'the index registry did not answer in time');
      Atomics.wait(this.word, 0, seen, left);
    }
    const got = receiveMessageOnPort(this.rpc)?.message as RegistryReply | undefined;
    if (!got || got.id !== id) throw new JpipdError('ERR_INTERNAL', 'registry reply out of order');
    if (got.error) throw fromErrorData(got.error);
    return got.sab as SharedArrayBuffer;
  }

  acquire(key: string): void {
    this.rpc.postMessage({ op: 'acquire', key } satisfies RegistryCall);
  }

  release(key: string): void {
    this.rpc.postMessage({ op: 'release', key } satisfies RegistryCall);
  }

  retire(key: string): void {
    this.rpc.postMessage({ op: 'retire', key } satisfies RegistryCall);
  }
}

/** The worker pool as seen from a worker thread. */
export class PoolLink implements HeavyWork {
  private seq = 0;
  private readonly pending = new Map<number, { resolve: (r: OpenResult | IndexResult) => void; reject: (e: unknown) => void }>();

  constructor(private readonly port: MessagePort) {
    port.on('message', (m: PoolReply) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.error) p.reject(fromErrorData(m.error));
      else p.resolve(m.result as OpenResult | IndexResult);
    });
    port.unref();
  }

  private call<T extends OpenResult | IndexResult>(task: OpenTask | IndexTask): Promise<T> {
    const id = ++this.seq;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (r: OpenResult | IndexResult) => void, reject });
      this.port.postMessage({ id, task } satisfies PoolCall);
    });
  }

  open(task: OpenTask): Promise<OpenResult> {
    return this.call<OpenResult>(task);
  }

  index(task: IndexTask): Promise<IndexResult> {
    return this.call<IndexResult>(task);
  }
}

/** The main thread's side: answers one worker front end's registry and pool calls. */
export function hostLinks(rpc: MessagePort, word: Int32Array, poolPort: MessagePort, registry: IndexRegistry, pool: WorkerPool): void {
  rpc.on('message', (m: RegistryCall) => {
    if (m.op === 'acquire') return registry.acquire(m.key);
    if (m.op === 'release') return registry.release(m.key);
    if (m.op === 'retire') return registry.retire(m.key);
    if (m.op !== 'table') return;
    let reply: RegistryReply;
    try {
      reply = { id: m.id, sab: registry.table(m.key, m.cs, m.slots) };
    } catch (e) {
      reply = { id: m.id, error: toErrorData(e) };
    }
    // Post first, then publish the id: the waiting thread wakes with the reply already queued.
    rpc.postMessage(reply);
    Atomics.store(word, 0, m.id);
    Atomics.notify(word, 0);
  });
  rpc.unref();
  poolPort.on('message', (m: PoolCall) => {
    const run = m.task.kind === 'open' ? pool.open(m.task) : pool.index(m.task);
    run.then(
      (result) => poolPort.postMessage({ id: m.id, result } satisfies PoolReply),
      (e: unknown) => poolPort.postMessage({ id: m.id, error: toErrorData(e) } satisfies PoolReply),
    );
  });
  poolPort.unref();
}
