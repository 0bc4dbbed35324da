"""The wire contract, proved on the real runner over HTTP: every case of the shared corpus
(tests/contract/requests.json, which the gateway's client and the fake runner answer too, in
test/contract.test.ts) gets its status and the contract's error type; API.md's tables are wire.py's."""

import json
import os

import pytest
from test_server import call, serving

from runner import apidoc, errors

CORPUS = json.load(open(os.path.join(os.path.dirname(__file__), "contract", "requests.json")))


@pytest.fixture(scope="module")
def runner_url(model_dir):
    with serving(model_dir("llama")) as url:  # the runner's default caps
        yield url


@pytest.mark.parametrize("case", CORPUS["cases"], ids=[c["name"] for c in CORPUS["cases"]])
def test_the_real_runner_answers_each_case_of_the_contract(runner_url, case):
    raw = case["raw"].encode() if "raw" in case else None
    if "body" in case:
        raw = json.dumps(case["body"]).encode()
    status, _, body = call(runner_url, case["path"], raw=raw, method=case["method"])
    assert status == case["status"], body[:300]
    if status >= 400:
        assert json.loads(body)["error"]["type"] == CORPUS["types"][str(status)]


def test_error_types_by_status_are_the_contracts():
    for status, type_ in CORPUS["types"].items():
        assert errors.ApiError(int(status), "x").type == type_


def test_api_md_request_tables_are_generated_from_the_wire_schema():
    assert apidoc.generated_part() == apidoc.render(), "run: python -m runner schema --write-api-md"


def answer_keys(body: str) -> dict:
    """The keys of an answer: the first result's (or the body's); for a stream, a delta's and the last event's."""
    if body.startswith("data:"):
        events = [json.loads(x[6:]) for x in body.split("\n") if x.startswith("data: ") and x[6:] != "[DONE]"]
        return {"delta": sorted(events[0]), "final": sorted(events[-1])}
    j = json.loads(body)
    return {"keys": sorted(j["results"][0] if "results" in j else j)}


@pytest.mark.parametrize("answer", CORPUS["answers"], ids=[a["name"] for a in CORPUS["answers"]])
def test_the_real_runner_answers_in_the_contracts_shapes(runner_url, answer):
    status, _, body = call(runner_url, answer["path"], raw=json.dumps(answer["body"]).encode(), method="POST")
    want = {k: answer[k] for k in ("keys", "delta", "final") if k in answer}
    assert status == 200 and answer_keys(body) == want
