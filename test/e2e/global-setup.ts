// Global setup of the end-to-end tests: a real runner (tiny model) and the gateway in workerd, and an API
// key created through the admin route; the tests get their URLs and the key through `inject`.
import type { TestProject } from "vitest/node";
import { ADMIN_TOKEN, startGateway, startRunner, stop } from "./servers";

declare module "vitest" {
  export interface ProvidedContext {
    gateway: string;
    runner: string;
    apiKey: string;
  }
}

export default async function setup(project: TestProject) {
  const runner = await startRunner();
  let gateway;
  try {
    gateway = await startGateway(runner.url);
  } catch (e) {
    stop(runner.proc);
    throw e;
  }
  const res = await fetch(`${gateway.url}/admin/keys`, {
    method: "POST",
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
    body: JSON.stringify({ name: "e2e" }),
  });
  const { key } = (await res.json()) as { key: string };
  project.provide("gateway", gateway.url);
  project.provide("runner", runner.url);
  project.provide("apiKey", key);
  return () => {
    stop(gateway.proc);
    stop(runner.proc);
  };
}
