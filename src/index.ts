// The edge gateway's route table: middleware in the order it runs, then the sub-apps (the OpenAI-compatible
// /v1 API with its caller checks, the demo, the admin API), one line per route, then the error handlers.
import { OpenAPIHono } from "@hono/zod-openapi";
import { bodyLimit } from "hono/body-limit";
import { identify, requireAdmin } from "./auth";
import type { CellMessage } from "./campaigns/start";
import { config, type AppEnv, type Bindings } from "./env";
import { ApiError, notFound, renderError } from "./errors";
import { boundRows } from "./inflight";
import { rateLimit } from "./limits";
import { info, ops, route } from "./openapi";
import { recordRequest } from "./records";
import { consume } from "./campaigns/consumer";
import { runScheduled } from "./campaigns/cron";
import * as admin from "./routes/admin";
import * as campaigns from "./routes/campaigns";
import { chatCompletions } from "./routes/chat";
import { compare } from "./routes/compare";
import { completions } from "./routes/completions";
import * as demo from "./routes/demo";
import { health, models } from "./routes/models";
import * as passthrough from "./routes/passthrough";

const app = new OpenAPIHono<AppEnv>();
app.use(recordRequest());
app.use(async function loadConfig(c, next) {
  c.set("config", config(c.env));
  return next();
});
app.use((c, next) =>
  bodyLimit({
    maxSize: c.var.config.maxBodyBytes,
    onError: () => {
      throw new ApiError(
        413,
        `the request body is over ${c.var.config.maxBodyBytes} bytes (MAX_BODY_BYTES); send less`,
        { code: "body_too_large" },
      );
    },
  })(c, next),
);

const v1 = new OpenAPIHono<AppEnv>();
v1.use(identify(), rateLimit(), boundRows());
route(v1, "/chat/completions", ops.chat, chatCompletions);
route(v1, "/completions", ops.completions, completions);
route(v1, "/compare", ops.compare, compare);
route(v1, "/models", ops.models, models);
route(v1, "/score", ops.score, passthrough.score);
route(v1, "/massive", ops.massive, passthrough.massive);
route(v1, "/tokenize", ops.tokenize, passthrough.tokenize);
route(v1, "/detokenize", ops.detokenize, passthrough.detokenize);
route(v1, "/tokenizer_info", ops.tokenizerInfo, passthrough.tokenizerInfo);
v1.get("/campaigns", campaigns.published);
v1.get("/campaigns/:run/report", campaigns.publishedReport);

const demoApi = new OpenAPIHono<AppEnv>();
demoApi.use(identify(), rateLimit());
demoApi.get("/massive", demo.massive);
demoApi.get("/robustness", campaigns.latestForDemo);

const adminApi = new OpenAPIHono<AppEnv>();
adminApi.use(requireAdmin());
route(adminApi, "/keys", ops.newKey, admin.createKey);
adminApi.get("/keys", admin.listKeys);
adminApi.delete("/keys/:id", admin.revokeKey);
adminApi.get("/experiments", admin.experiments);
adminApi.put("/experiments/:name", admin.putExperiment);
adminApi.delete("/experiments/:name", admin.deleteExperiment);
adminApi.get("/requests", admin.requests);
adminApi.post("/campaigns", campaigns.start);
adminApi.get("/campaigns", campaigns.list);
adminApi.get("/campaigns/:run", campaigns.progress);
adminApi.get("/campaigns/:run/report", campaigns.adminReport);
adminApi.get("/campaigns/:run/rows", campaigns.rows);
adminApi.put("/campaigns/:run/published", campaigns.publish);
adminApi.get("/stored-campaigns", campaigns.listStored);
adminApi.put("/stored-campaigns/:name", campaigns.putStored);
adminApi.delete("/stored-campaigns/:name", campaigns.deleteStored);

app.get("/", demo.page);
app.get("/health", health);
app.route("/v1", v1);
app.route("/demo", demoApi);
app.route("/admin", adminApi);
// vLLM's tokenizer routes sit at the root too, where lm-evaluation-harness's remote tokenizer looks for them.
app.get("/tokenizer_info", identify(), rateLimit(), passthrough.tokenizerInfo);
app.post("/tokenize", identify(), rateLimit(), passthrough.tokenize);
app.post("/detokenize", identify(), rateLimit(), passthrough.detokenize);
app.doc31("/openapi.json", info);

app.onError(renderError);
app.notFound(notFound);

export { RunnerContainer } from "./container";
// The Hono app itself, for tests that read its route table.
export { app };
// HTTP, the campaign queues' consumer (src/campaigns/consumer.ts) and the cron trigger (src/campaigns/cron.ts).
export default {
  fetch: app.fetch,
  queue: (batch, env, _ctx) => consume(batch, env),
  scheduled: async (controller, env, _ctx) => void (await runScheduled(controller.cron, env)),
} satisfies ExportedHandler<Bindings, CellMessage>;
