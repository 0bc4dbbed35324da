// GET /openapi.json documents the public API from the same zod schemas the routes read with.
import { describe, expect, it } from "vitest";
import { MAX_STOP } from "../src/runner/wire";
import { call } from "./helpers";

describe("the OpenAPI document", () => {
  it("lists the /v1 routes with their request bodies and the contract's caps", async () => {
    const res = await call("/openapi.json");
    expect(res.status).toBe(200);
    const doc = (await res.json()) as any;
    expect(doc.openapi).toBe("3.1.0");
    for (const path of ["/v1/chat/completions", "/v1/completions", "/v1/compare", "/v1/score", "/admin/keys"])
      expect(Object.keys(doc.paths)).toContain(path);
    const chat = doc.paths["/v1/chat/completions"].post.requestBody.content["application/json"].schema;
    expect(chat.required).toContain("messages");
    expect(JSON.stringify(chat.properties.stop)).toContain(`"maxItems":${MAX_STOP}`);
    expect(doc.paths["/v1/massive"].get.parameters.map((p: any) => p.name)).toContain("k");
  });
});
