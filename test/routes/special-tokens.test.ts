// The opt-in to parse special tokens in text (issue 11, item 7), mocked runner: off unless the client sends
// "parse_special_tokens": true, and then passed to the runner on every route that carries text, so the
// client's choice (not the gateway's) decides whether "</s>" is four characters or the EOS token.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { call, newKey } from "../helpers";

const sent = async (path: string) =>
  (await (env as unknown as { RUNNER: Fetcher }).RUNNER.fetch(`http://any/__last?path=${path}`)).json<any>();

const ROUTES: [string, Record<string, unknown>, string, (b: any) => unknown[]][] = [
  [
    "/v1/completions",
    { model: "house:base", prompt: ["a</s>", "b"], max_tokens: 2 },
    "/v1/generate",
    (b) => b.requests,
  ],
  [
    "/v1/chat/completions",
    { model: "house:base", messages: [{ role: "user", content: "a</s>" }] },
    "/v1/generate",
    (b) => b.requests,
  ],
  [
    "/v1/compare",
    { prompt: "a</s>", variants: ["base", "macdrop"], max_tokens: 2 },
    "/v1/generate",
    (b) => b.requests,
  ],
  [
    "/v1/completions",
    { model: "house:base", prompt: "a</s>", max_tokens: 0, echo: true, logprobs: 0 },
    "/v1/score",
    (b) => b.echo,
  ],
  ["/v1/score", { rolling: [{ text: "a</s>" }] }, "/v1/score", (b) => b.rolling],
];

describe("parse_special_tokens (off by default)", () => {
  for (const [path, body, runnerPath, rowsOf] of ROUTES)
    it(`${path}: reaches the runner's rows only when the client sends it`, async () => {
      const headers = { authorization: `Bearer ${await newKey("specials")}` };
      for (const opt of [undefined, false, true]) {
        // /v1/score takes the runner's rows as they are: the option is a row's field there.
        const withOpt =
          opt === undefined
            ? body
            : path === "/v1/score"
              ? { rolling: [{ text: "a</s>", parse_special_tokens: opt }] }
              : { ...body, parse_special_tokens: opt };
        const res = await call(path, { body: withOpt, headers });
        expect(res.status, await res.clone().text()).toBe(200);
        const rows = rowsOf(await sent(runnerPath));
        expect(rows.map((r: any) => r.parse_special_tokens ?? false)).toEqual(rows.map(() => opt ?? false));
      }
    });

  it("/v1/tokenize: '</s>' is four characters by default and the EOS token by opt-in", async () => {
    const text = "a</s>";
    const plain = await (await call("/v1/tokenize", { body: { text } })).json<any>();
    const parsed = await (
      await call("/v1/tokenize", { body: { text, parse_special_tokens: true } })
    ).json<any>();
    expect(plain.tokens).toEqual(
      [1, ..."a</s>"].map((ch) => (ch === 1 ? 1 : (ch as string).charCodeAt(0) + 3)),
    );
    expect(parsed.tokens).toEqual([1, "a".charCodeAt(0) + 3, 2]);
  });

  it("refuses a value that is not a boolean, naming the field", async () => {
    const res = await call("/v1/tokenize", { body: { text: "a", parse_special_tokens: "yes" } });
    const { error } = (await res.json()) as any;
    expect([res.status, error.param]).toEqual([400, "parse_special_tokens"]);
  });
});
