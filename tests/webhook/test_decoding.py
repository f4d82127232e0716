"""Request bodies decode to exactly what the standard library's `json` makes of them, whichever
parser did the work: the same values and types (integers of any size), the same key order, and
the same refusals."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mllint.webhook.admission import BadRequest, parse_review

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=30,
)


def envelope(obj: Any) -> bytes:
    body = {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {"uid": "u-1", "operation": "CREATE", "object": {"spec": obj}},
    }
    return json.dumps(body).encode()


def same(decoded: Any, expected: Any) -> None:
    # repr tells 1 from 1.0 and -0.0 from 0.0, and shows key order.
    assert repr(decoded) == repr(expected)


@settings(max_examples=300, deadline=None)
@given(JSON_VALUES)
def test_any_document_decodes_as_json_does(obj: Any) -> None:
    body = envelope(obj)
    same(parse_review(body).request, json.loads(body)["request"])


@pytest.mark.parametrize(
    "text",
    [
        "18446744073709551616",  # past 64 bits: an int, never a float
        "-9223372036854775809",
        "123456789012345678901234567890",
        "NaN",
        "-Infinity",
        "1e400",
        '"\\ud800"',  # an escaped lone surrogate
        '{"a": 1, "b": 2, "a": 3}',  # the last value, at the first key's place
        "[" * 300 + "]" * 300,  # deeper than the fast parser goes
        "1.00000000000000011102230246251565404236316680908203125",
    ],
)
def test_edge_cases_decode_as_json_does(text: str) -> None:
    body = envelope("HERE").replace(b'"HERE"', text.encode())
    same(parse_review(body).request, json.loads(body)["request"])


def test_a_byte_order_mark_is_read_as_json_reads_it() -> None:
    body = b"\xef\xbb\xbf" + envelope([1])
    same(parse_review(body).request, json.loads(body)["request"])


@pytest.mark.parametrize(
    "body",
    [b"", b"  ", b"{'a': 1}", b"[1,]", b'{"a": 1} x', b"01", b'{"a": "\x01"}', b"\x0c{}"],
)
def test_malformed_bodies_are_refused_with_jsons_words(body: bytes) -> None:
    with pytest.raises(json.JSONDecodeError) as expected:
        json.loads(body)
    with pytest.raises(BadRequest) as refused:
        parse_review(body)
    error = expected.value
    assert refused.value.message == (
        f"the body is not valid JSON: {error.msg} at line {error.lineno} column {error.colno}"
    )
