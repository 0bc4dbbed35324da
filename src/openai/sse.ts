// Server-sent events, rewritten on the fly: each runner event becomes zero or more client events as it
// arrives (no buffering of the whole answer); `done` resolves when the last byte has passed. A runner that
// goes quiet for `idleMs` mid-stream is cut off with an error event, so a client never hangs.
export type SseMapper = {
  event: (data: unknown) => unknown[]; // client payloads for one runner event
  end: () => unknown[]; // client payloads after the runner's [DONE] (or its end)
};

export function mapSse(
  body: ReadableStream<Uint8Array>,
  mapper: SseMapper,
  idleMs: number,
): { stream: ReadableStream<Uint8Array>; done: Promise<void> } {
  const dec = new TextDecoder();
  const enc = new TextEncoder();
  let buf = "";
  let ended = false;
  let finish!: () => void;
  const done = new Promise<void>((r) => (finish = r));
  const emit = (ctl: TransformStreamDefaultController<Uint8Array>, payloads: unknown[]) => {
    if (payloads.length)
      ctl.enqueue(
        enc.encode(payloads.map((p) => `data: ${p === "[DONE]" ? p : JSON.stringify(p)}\n\n`).join("")),
      );
  };
  const close = (ctl: TransformStreamDefaultController<Uint8Array>) => {
    if (ended) return;
    ended = true;
    emit(ctl, [...mapper.end(), "[DONE]"]);
  };
  const handle = (ctl: TransformStreamDefaultController<Uint8Array>, block: string) => {
    const data = block
      .split("\n")
      .filter((l) => l.startsWith("data:"))
      .map((l) => l.slice(5).trimStart())
      .join("\n");
    if (!data) return;
    if (data === "[DONE]") return close(ctl);
    let parsed: unknown;
    try {
      parsed = JSON.parse(data);
    } catch {
      return;
    }
    emit(ctl, mapper.event(parsed));
  };
  const t = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, ctl) {
      buf += dec.decode(chunk, { stream: true }).replace(/\r\n/g, "\n");
      let i: number;
      while ((i = buf.indexOf("\n\n")) >= 0) {
        handle(ctl, buf.slice(0, i));
        buf = buf.slice(i + 2);
      }
    },
    flush(ctl) {
      if (buf.trim()) handle(ctl, buf);
      close(ctl);
      finish();
    },
  });
  // A client that goes away cancels the stream; the record must still be written.
  return { stream: guarded(body.pipeThrough(t), idleMs, finish), done };
}

function guarded(
  s: ReadableStream<Uint8Array>,
  idleMs: number,
  onEnd: () => void,
): ReadableStream<Uint8Array> {
  const reader = s.getReader();
  return new ReadableStream<Uint8Array>({
    async pull(ctl) {
      let timer = 0;
      const idle = new Promise<"idle">(
        (r) => (timer = setTimeout(() => r("idle"), idleMs) as unknown as number),
      );
      const got = await Promise.race([reader.read(), idle]);
      clearTimeout(timer);
      if (got === "idle") {
        const error = {
          message: `the runner sent nothing for ${idleMs} ms; the answer stops here`,
          type: "runner_timeout",
          param: null,
          code: null,
        };
        ctl.enqueue(new TextEncoder().encode(`data: ${JSON.stringify({ error })}\n\ndata: [DONE]\n\n`));
        ctl.close();
        onEnd();
        await reader.cancel("idle").catch(() => undefined);
      } else if (got.done) ctl.close();
      else ctl.enqueue(got.value);
    },
    cancel(reason) {
      onEnd();
      return reader.cancel(reason);
    },
  });
}

export const sseHeaders = {
  "content-type": "text/event-stream; charset=utf-8",
  "cache-control": "no-cache",
  connection: "keep-alive",
};
