"""The wire contract's refusals, tested by class rather than by example: every float field of every request
body refuses every non-finite or subnormal number with a 422 (a number out of range), never lets it reach
the sampler; and NaN / Infinity spelled in a body are not JSON at all (400)."""

import math

import pytest

from runner import wire
from runner.errors import ApiError

BAD_NUMBERS = [math.nan, math.inf, -math.inf, 5e-324, -5e-324, 1e-310, 2.225e-308]
GOOD_SMALL = [0.0, wire.SMALLEST_NORMAL, 1e-300, 1e-5]


def float_fields() -> list[tuple[type[wire.Wire], str]]:
    """Every float field of every model of the contract."""
    models = wire.Wire.__subclasses__()
    return [(m, n) for m in models for n, f in m.model_fields.items() if "float" in repr(f.annotation)]


FIELDS = float_fields()
ROWS = {wire.GenerateRow: lambda v, n: {"requests": [{"prompt": "Hi", n: v}]}}  # a body around the row


def test_the_contract_has_float_fields_to_check():
    # A new float field shows up here; give its model a body in ROWS and the class tests below cover it.
    assert {(m.__name__, n) for m, n in FIELDS} == {("GenerateRow", "temperature"), ("GenerateRow", "top_p")}
    assert all(m in ROWS for m, _ in FIELDS)


@pytest.mark.parametrize("model,name", FIELDS, ids=[f"{m.__name__}.{n}" for m, n in FIELDS])
@pytest.mark.parametrize("value", BAD_NUMBERS, ids=repr)
def test_every_float_field_refuses_non_finite_and_subnormal_numbers_with_422(model, name, value):
    with pytest.raises(ApiError) as e:
        wire.parse(wire.GenerateRequest, ROWS[model](value, name))
    assert e.value.status == 422, e.value.message
    assert e.value.param == f"requests[0].{name}"


@pytest.mark.parametrize("model,name", FIELDS, ids=[f"{m.__name__}.{n}" for m, n in FIELDS])
@pytest.mark.parametrize("value", GOOD_SMALL, ids=repr)
def test_every_float_field_accepts_zero_and_small_normal_numbers(model, name, value):
    wire.parse(wire.GenerateRequest, ROWS[model](value, name))


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_spelled_in_a_body_are_not_json(literal):
    raw = b'{"requests": [{"prompt": "Hi", "temperature": %s}]}' % literal.encode()
    with pytest.raises(ApiError) as e:
        wire.parse(wire.GenerateRequest, raw)
    assert e.value.status == 400 and "JSON" in e.value.message


def test_a_number_too_large_for_a_float_is_422():
    raw = b'{"requests": [{"prompt": "Hi", "top_p": 1e999}]}'  # json reads it as inf
    with pytest.raises(ApiError) as e:
        wire.parse(wire.GenerateRequest, raw)
    assert e.value.status == 422
