"""Runner throughput over real HTTP: load time (process start to /health), then tokens/s for one row and
for one request carrying three variants (base, massive-zero, random-zero), greedy, fixed max_tokens.

    .venv/bin/python bench/runner/throughput.py [--model DIR|NAME] [--tokens 64] [--repeats 3] [--device cpu]

Prints a Markdown table and one JSON line; results are recorded in bench/runner/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import subprocess
import sys
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def post(url, body):
    req = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=600) as r:
        return json.loads(r.read())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model")
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--device")
    ap.add_argument("--rows", type=int, default=3, help="rows per variant in the batched case")
    args = ap.parse_args()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [sys.executable, "-m", "runner", "serve", "--port", str(port)]
    if args.model:  # a path, or a named model such as gemma3-270m
        cmd += ["--model", os.path.abspath(args.model) if os.path.exists(args.model) else args.model]
    cmd += ["--device", args.device] if args.device else []
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        cmd, cwd=os.path.join(ROOT, "gpu-runner"), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    url = f"http://127.0.0.1:{port}"
    while True:
        try:
            health = json.loads(urllib.request.urlopen(url + "/health", timeout=1).read())
            break
        except OSError:
            if proc.poll() is not None:
                sys.exit(proc.stderr.read().decode())
            time.sleep(0.05)
    load_s = time.perf_counter() - t0
    prompt = "The history of the city begins with a small settlement by the river, where"
    variants = [v for v in ("base", "massive-zero", "random-zero") if v in health["variants"]]

    def run(rows):
        best = None
        for _ in range(args.repeats):
            t = time.perf_counter()
            res = post(url + "/v1/generate", {"requests": rows})["results"]
            dt = time.perf_counter() - t
            toks = sum(r["usage"]["completion_tokens"] for r in res)
            rate = toks / dt
            best = max(best or 0, rate)
        return best, toks

    one = {"variant": "base", "prompt": prompt, "max_tokens": args.tokens, "stop": None}
    post(url + "/v1/generate", {"requests": [dict(one, max_tokens=4)]})  # warm-up
    r1, t1 = run([one])
    r3, t3 = run([dict(one, variant=v) for v in variants])
    rb, tb = run([dict(one, variant=v) for v in variants for _ in range(args.rows)])
    proc.terminate()
    proc.wait(10)
    m = health["model"]
    out = {
        "model": m["id"],
        "params": f"{m['layers']}L d{m['d_model']} ff{m['d_ff']}",
        "device": m["device"],
        "dtype": m["dtype"],
        "host": f"{platform.machine()} {os.cpu_count()} cpus",
        "load_s": round(load_s, 2),
        "tok_s_one_row": round(r1, 1),
        "tok_s_three_variants": round(r3, 1),
        f"tok_s_{len(variants) * args.rows}_rows": round(rb, 1),
        "tokens_per_row": args.tokens,
    }
    print("| metric | value |\n|---|---|")
    for k, v in out.items():
        print(f"| {k} | {v} |")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
