// The edge gateway's route table (DESIGN §2, §6): middleware in the order it runs, then one line per route.
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { identify, requireAdmin } from "./auth";
import { config, type AppEnv } from "./env";
import { ApiError, notFound, renderError } from "./errors";
import { rateLimit } from "./limits";
import { recordRequest } from "./records";
import * as admin from "./routes/admin";
import { chatCompletions } from "./routes/chat";
import { compare } from "./routes/compare";
import { completions } from "./routes/completions";
import { demoPage } from "./demo/page";
import { health, models } from "./routes/models";
import * as runner from "./routes/runner";

const app = new Hono<AppEnv>();

app.use("*", recordRequest());
app.use("*", async function loadConfig(c, next) {
  c.set("config", config(c.env));
  return next();
});
app.use("*", (c, next) =>
  bodyLimit({
    maxSize: c.var.config.maxBodyBytes,
    onError: (c) => {
      throw new ApiError(
        413,
        `the request body is over ${c.var.config.maxBodyBytes} bytes (MAX_BODY_BYTES); send less`,
        { code: "body_too_large" },
      );
    },
  })(c, next),
);
app.use("/v1/*", identify(), rateLimit());
app.use("/demo/*", identify(), rateLimit());
app.use("/tokenize", identify(), rateLimit());
app.use("/detokenize", identify(), rateLimit());
app.use("/tokenizer_info", identify(), rateLimit());
app.use("/admin/*", requireAdmin());

app.get("/", demoPage);
app.get("/health", health);
app.get("/v1/models", models);
app.post("/v1/chat/completions", chatCompletions);
app.post("/v1/completions", completions);
app.post("/v1/compare", compare);
app.post("/v1/score", runner.score);
app.get("/v1/massive", runner.massive);
app.get("/demo/massive", runner.demoMassive);
app.get("/v1/tokenizer_info", runner.tokenizerInfo);
app.post("/v1/tokenize", runner.tokenize);
app.post("/v1/detokenize", runner.detokenize);
// vLLM's tokenizer routes sit at the root, where lm-evaluation-harness's remote tokenizer looks for them.
app.get("/tokenizer_info", runner.tokenizerInfo);
app.post("/tokenize", runner.tokenize);
app.post("/detokenize", runner.detokenize);
app.post("/admin/keys", admin.createKey);
app.get("/admin/keys", admin.listKeys);
app.delete("/admin/keys/:id", admin.revokeKey);
app.get("/admin/experiments", admin.experiments);
app.put("/admin/experiments/:name", admin.putExperiment);
app.get("/admin/requests", admin.requests);

app.onError(renderError);
app.notFound(notFound);

export { RunnerContainer } from "./container";
export default app;
