"""Bad input is the client's error, by class, on a real runner process: every route answers every malformed
body (nested 100k deep, an integer of 5,000 digits, a lone surrogate in any string field, bytes that are not
UTF-8, a Content-Encoding the body does not have) and every malformed query number with a 4xx naming the
problem, never a 500 (which a gateway would take for a broken runner), and the runner goes on serving."""

import json

import pytest
from test_server import call, serving

POST_ROUTES = ["/v1/generate", "/v1/score", "/v1/tokenize", "/v1/detokenize", "/v1/variants"]
DEEP = b"[" * 100_000 + b"]" * 100_000

# One string field per route that reaches the tokenizer (or a name check), for the lone-surrogate class.
STRING_FIELDS = {
    "/v1/generate": '{"requests": [{"prompt": "a%sb", "max_tokens": 1}]}',
    "/v1/generate#messages": '{"requests": [{"messages": [{"role": "user", "content": "%s"}], "max_tokens": 1}]}',
    "/v1/generate#stop": '{"requests": [{"prompt": "a", "stop": "%s", "max_tokens": 1}]}',
    "/v1/score": '{"requests": [{"context": "a", "continuation": "%s"}]}',
    "/v1/score#rolling": '{"rolling": [{"text": "%s"}]}',
    "/v1/score#echo": '{"echo": [{"prompt": "%s"}]}',
    "/v1/tokenize": '{"text": "%s"}',
    "/v1/variants": '{"name": "%s"}',
}
SURROGATES = ["\\ud800", "\\udfff", "a\\udc00", "\\ud800\\ud800"]


def malformed_bodies() -> list[tuple[str, bytes]]:
    out = []
    for path in POST_ROUTES:
        out += [
            (path, DEEP),
            (path, b'{"x": ' + DEEP + b"}"),
            (path, b'{"x": 1' + b"0" * 5000 + b"}"),
            (path, b'{"x": "\xff\xfe"}'),
            (path, b'{"x": 1e99999}'),
        ]
    for key, template in STRING_FIELDS.items():
        out += [(key.split("#")[0], (template % s).encode()) for s in SURROGATES]
    return out


BAD_K = ["²", "１", "٣", "1e3", "-1", "0x10", " 5", "5 ", "", "nan"]  # not ASCII digits


@pytest.fixture(scope="module")
def url(model_dir):
    with serving(model_dir("llama"), "--admin-token", "t0ken") as u:
        yield u


ADMIN = {"Authorization": "Bearer t0ken"}


@pytest.mark.parametrize("path,raw", malformed_bodies(), ids=lambda v: v if isinstance(v, str) else None)
def test_every_malformed_body_is_a_4xx_never_a_500(url, path, raw):
    status, _, body = call(url, path, raw=raw, method="POST", headers=ADMIN)
    assert 400 <= status < 500, body[:300]
    assert json.loads(body)["error"]["message"]


@pytest.mark.parametrize("k", BAD_K)
def test_every_malformed_query_number_is_a_400(url, k):
    from urllib.parse import quote

    status, _, body = call(url, "/v1/massive?k=" + quote(k))
    assert status == 400, body[:300]


def test_a_query_number_of_5000_digits_is_out_of_range_not_a_crash(url):
    status, _, body = call(url, "/v1/massive?k=" + "9" * 5000)
    assert status == 422, body[:300]


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br", "bogus"])
def test_a_content_encoding_the_body_does_not_have_is_a_4xx(url, encoding):
    raw = b'{"text": "hi"}'
    status, _, body = call(
        url, "/v1/tokenize", raw=raw, method="POST", headers={"Content-Encoding": encoding}
    )
    assert 400 <= status < 500, body[:300]


def test_the_runner_serves_on_after_all_of_it(url):
    status, _, body = call(url, "/v1/tokenize", {"text": "hi"}, method="POST")
    assert status == 200 and json.loads(body)["tokens"]
