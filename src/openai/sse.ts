// Server-sent events, rewritten on the fly: each runner event becomes zero or more client events as it
// arrives (no buffering of the whole answer); `done` resolves with the answer's real outcome when the last
// byte has passed. A stream that does not end well ends with an error event the OpenAI SDKs raise on
// ({"error": {message, type, param, code}}, then [DONE]), never like a finished one: a runner that goes quiet
// for `idleMs` (504), a runner stream that ends before its [DONE] or breaks (502), and a runner's own
// mid-stream error event for a row (passed on with the runner's message; its status is the outcome).
export type SseMapper = {
  event: (data: unknown) => unknown[]; // client payloads for one runner event
  end: () => unknown[]; // client payloads after the runner's [DONE] (or its end)
};

/** How a streamed answer ended, for its record: 200 and no error type when it ended well. */
export type StreamOutcome = { status: number; errorType: string | null };

const errorEvent = (message: string, type: string) => ({ error: { message, type, param: null, code: null } });

export function mapSse(
  body: ReadableStream<Uint8Array>,
  mapper: SseMapper,
  idleMs: number,
): { stream: ReadableStream<Uint8Array>; done: Promise<StreamOutcome> } {
  const dec = new TextDecoder();
  const enc = new TextEncoder();
  let buf = "";
  let ended = false;
  let outcome: StreamOutcome = { status: 200, errorType: null };
  let settle!: (o: StreamOutcome) => void;
  const done = new Promise<StreamOutcome>((r) => (settle = r));
  const finish = (o: StreamOutcome) => settle(outcome.status === 200 ? o : outcome); // the first error wins
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
    const err = (parsed as { error?: { message?: string; type?: string; status?: number } } | null)?.error;
    if (err && typeof err === "object") {
      // A runner's row failed mid-stream: the client hears it, the record keeps it.
      const type = err.type ?? "server_error";
      if (outcome.status === 200) outcome = { status: err.status ?? 500, errorType: type };
      return emit(ctl, [errorEvent(`the runner failed mid-answer: ${err.message ?? "unknown error"}`, type)]);
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
      if (!ended) {
        // The runner's body ended without its [DONE]: it died mid-answer.
        emit(ctl, [BROKEN.event, "[DONE]"]);
        ended = true;
        return finish(BROKEN.outcome);
      }
      finish(outcome);
    },
  });
  // A client that goes away cancels the stream; the record must still be written.
  return { stream: guarded(body.pipeThrough(t), idleMs, finish), done };
}

const BROKEN = {
  event: errorEvent("the runner's stream broke off before its end; the answer is incomplete", "runner_error"),
  outcome: { status: 502, errorType: "runner_error" },
};

function guarded(
  s: ReadableStream<Uint8Array>,
  idleMs: number,
  onEnd: (o: StreamOutcome) => void,
): ReadableStream<Uint8Array> {
  const reader = s.getReader();
  const stop = (ctl: ReadableStreamDefaultController<Uint8Array>, error: unknown, o: StreamOutcome) => {
    ctl.enqueue(new TextEncoder().encode(`data: ${JSON.stringify(error)}\n\ndata: [DONE]\n\n`));
    ctl.close();
    onEnd(o);
  };
  return new ReadableStream<Uint8Array>({
    async pull(ctl) {
      let timer = 0;
      const idle = new Promise<"idle">(
        (r) => (timer = setTimeout(() => r("idle"), idleMs) as unknown as number),
      );
      // The runner's connection breaking (a reset, a killed process) rejects the read.
      const got = await Promise.race([reader.read(), idle]).catch(() => "broken" as const);
      clearTimeout(timer);
      if (got === "idle") {
        const message = `the runner sent nothing for ${idleMs} ms; the answer stops here`;
        stop(ctl, errorEvent(message, "runner_timeout"), { status: 504, errorType: "runner_timeout" });
        await reader.cancel("idle").catch(() => undefined);
      } else if (got === "broken") stop(ctl, BROKEN.event, BROKEN.outcome);
      else if (got.done) ctl.close();
      else ctl.enqueue(got.value);
    },
    cancel(reason) {
      onEnd({ status: 499, errorType: "client_closed_request" });
      return reader.cancel(reason);
    },
  });
}

export const sseHeaders = {
  "content-type": "text/event-stream; charset=utf-8",
  "cache-control": "no-cache",
  connection: "keep-alive",
};
