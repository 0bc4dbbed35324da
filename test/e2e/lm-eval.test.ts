// lm-evaluation-harness, unchanged, scores a multiple-choice task through the gateway: its local-completions
// model with the remote tokenizer (/tokenizer_info, /tokenize at the root as on vLLM) and echo + logprobs on
// token-id prompts. Needs the harness in build/lmeval (scripts/test-ts.sh installs it from PyPI); a tiny
// four-question task from test/e2e/fixtures keeps it offline.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, inject, it } from "vitest";
import { root } from "./servers";

const lmEval = process.env.LM_EVAL ?? join(root, "build/lmeval/bin/lm_eval");

describe("lm-evaluation-harness through the gateway", () => {
  it.runIf(existsSync(lmEval))(
    "scores a multiple-choice task with local-completions and the remote tokenizer",
    () => {
      const dir = mkdtempSync(join(tmpdir(), "house-lmeval-"));
      const data = join(root, "test/e2e/fixtures/house_mc.jsonl");
      writeFileSync(
        join(dir, "house_mc.yaml"),
        [
          "task: house_mc",
          "dataset_path: json",
          `dataset_kwargs: {data_files: {test: "${data}"}}`,
          "test_split: test",
          "output_type: multiple_choice",
          'doc_to_text: "{{question}}"',
          'doc_to_choice: "{{choices}}"',
          'doc_to_target: "{{answer}}"',
          "metric_list: [{metric: acc}]",
        ].join("\n") + "\n",
      );
      const key = inject("apiKey");
      const modelArgs = `model=house:base,base_url=${inject("gateway")}/v1/completions,tokenizer_backend=remote,tokenized_requests=True,auth_token=${key},num_concurrent=1,max_retries=1`;
      const out = join(dir, "out");
      const run = spawnSync(
        lmEval,
        [
          "--model",
          "local-completions",
          "--model_args",
          modelArgs,
          "--tasks",
          "house_mc",
          "--include_path",
          dir,
          "--batch_size",
          "1",
          "--output_path",
          out,
        ],
        {
          encoding: "utf8",
          env: { ...process.env, OPENAI_API_KEY: key, HF_DATASETS_OFFLINE: "1", HF_HUB_OFFLINE: "1" },
          timeout: 180_000,
        },
      );
      expect(run.status, run.stderr.slice(-3000)).toBe(0);
      const find = (d: string): string[] =>
        readdirSync(d, { withFileTypes: true }).flatMap((e) =>
          e.isDirectory() ? find(join(d, e.name)) : e.name.startsWith("results") ? [join(d, e.name)] : [],
        );
      const results = JSON.parse(readFileSync(find(out)[0], "utf8"));
      const acc = results.results.house_mc["acc,none"];
      expect(acc).toBeGreaterThanOrEqual(0);
      expect(acc).toBeLessThanOrEqual(1);
      expect(results["n-samples"].house_mc.effective).toBe(4);
    },
  );
});
