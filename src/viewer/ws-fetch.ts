/**
 * jpipd's WebSocket transport as a `fetch` for JpipSession (server/websocket.ts has the framing):
 * each request target goes out as one text message; the reply is a text message with the JSON head
 * ({seq, status, headers}) then one binary message with the body, in request order. GET only (the
 * session's POST is not used by the viewer).
 */

/** Opens the socket; resolves with a fetch that speaks over it, or rejects if it cannot open in `timeoutMs`. */
export function openWsFetch(url: string, timeoutMs = 3000): Promise<typeof fetch> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.binaryType = 'arraybuffer';
    const waiting: Array<{ ok: (r: Response) => void; fail: (e: Error) => void }> = [];
    let head: { status: number; headers: Record<string, string> } | null = null;
    const timer = setTimeout(() => {
      ws.close();
      reject(new Error('the WebSocket did not open'));
    }, timeoutMs);
    ws.onmessage = (ev: MessageEvent) => {
      if (typeof ev.data === 'string') {
        head = JSON.parse(ev.data) as { status: number; headers: Record<string, string> };
        return;
      }
      const h = head ?? { status: 502, headers: {} };
      head = null;
      waiting.shift()?.ok(new Response(ev.data as ArrayBuffer, { status: h.status, headers: h.headers }));
    };
    ws.onclose = () => {
      clearTimeout(timer);
      for (const w of waiting.splice(0)) w.fail(new TypeError('the WebSocket closed'));
      reject(new Error('the WebSocket closed'));
    };
    ws.onopen = () => {
      clearTimeout(timer);
      resolve((input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
        if (init?.method && init.method !== 'GET') return Promise.reject(new TypeError('only GET over the WebSocket transport'));
        const u = new URL(String(input), location.href);
        return new Promise((ok, fail) => {
          if (ws.readyState !== WebSocket.OPEN) return fail(new TypeError('the WebSocket is closed'));
          waiting.push({ ok, fail });
          ws.send(u.pathname + u.search);
        });
      });
    };
  });
}
