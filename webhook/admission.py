"""The AdmissionReview envelope (admission.k8s.io/v1 and v1beta1): reading a request from raw
bytes, refusing malformed ones with a clear reason, and writing the response.

The contract is the API server's: it checks that the response has the request's `uid`, the same
apiVersion and kind `AdmissionReview`, that a validating webhook sends no `patch`/`patchType`, and
that a mutating one sends both or neither
(k8s.io/apiserver/pkg/admission/plugin/webhook/request/admissionreview.go).

Requests are plain dicts checked by hand rather than pydantic models: the object under review is
arbitrary and often large, and only a handful of envelope fields matter.

Bodies are decoded by pydantic-core's JSON parser, which takes about 60 % of the standard
library's time and gives the same values on every document both accept (integers of any size
included, which orjson would turn into floats past 64 bits). What it refuses (an escaped lone
surrogate, nesting deeper than 200, a byte order mark, and every malformed body) is decoded by
`json` again, so the outcome and the error messages are the standard library's.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from pydantic_core import from_json

API_VERSIONS = ("admission.k8s.io/v1", "admission.k8s.io/v1beta1")
KIND = "AdmissionReview"


class BadRequest(Exception):
    """A request mllint cannot answer with an AdmissionReview: the caller's mistake (4xx)."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(status, reason, message)  # all three: it travels back from workers
        self.status = status
        self.reason = reason
        self.message = message

    def __str__(self) -> str:
        return self.message


class Unjudgeable(Exception):
    """An AdmissionReview whose `uid` could be read but whose object cannot be judged (nested
    too deep to decode, larger than mllint takes): the failure mode answers it."""

    def __init__(self, api_version: str, uid: str, reason: str, detail: str) -> None:
        super().__init__(api_version, uid, reason, detail)
        self.api_version = api_version
        self.uid = uid
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Review:
    api_version: str
    uid: str
    request: Mapping[str, Any]

    @property
    def operation(self) -> str:
        op = self.request.get("operation")
        return op if isinstance(op, str) else ""

    @property
    def dry_run(self) -> bool:
        return self.request.get("dryRun") is True

    @property
    def kind(self) -> str:
        """The kind the API server says it sends (`request.kind.kind`), for labels and logs."""
        gvk = self.request.get("kind")
        kind = gvk.get("kind") if isinstance(gvk, dict) else None
        return kind if isinstance(kind, str) else ""

    def object(self) -> dict[str, Any] | None:
        """The object to judge, with apiVersion and kind filled from `request.kind` when the
        object leaves them out (older API servers did)."""
        obj = self.request.get("object")
        if not isinstance(obj, dict):
            return None
        if "apiVersion" in obj and "kind" in obj:
            return obj
        gvk = self.request.get("kind")
        if not isinstance(gvk, dict):
            return obj
        group, version = str(gvk.get("group") or ""), str(gvk.get("version") or "")
        filled = dict(obj)
        filled.setdefault("apiVersion", f"{group}/{version}" if group else version)
        filled.setdefault("kind", str(gvk.get("kind") or ""))
        return filled


def parse_review(body: bytes | bytearray) -> Review:
    """The AdmissionReview in `body`; Unjudgeable when only its envelope can be read (the
    object nests too deep for the decoder), else BadRequest saying what is wrong with it."""
    if body[:2] in _UTF16_BOMS or body[:4].count(0):
        # json.loads would guess UTF-16 or UTF-32 from the first bytes; the API server sends
        # UTF-8 only, as RFC 8259 requires between systems.
        raise BadRequest(
            400, "encoding", "the body is not UTF-8 encoded JSON (it looks like UTF-16 or UTF-32)"
        )
    try:
        data = from_json(body, cache_strings=False)
    except ValueError:
        data = _stdlib_loads(body)
    return _checked(data)


def _stdlib_loads(body: bytes | bytearray) -> Any:
    try:
        return json.loads(body)
    except UnicodeDecodeError:
        raise BadRequest(400, "encoding", "the body is not UTF-8 encoded JSON") from None
    except json.JSONDecodeError as exc:
        raise BadRequest(
            400,
            "json",
            f"the body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
        ) from None
    except ValueError as exc:  # e.g. an integer beyond Python's digit limit
        raise BadRequest(400, "json", f"the body is not usable JSON: {exc}") from None
    except RecursionError:
        head = envelope(body)
        if head is None:
            raise _too_deep() from None
        raise Unjudgeable(*head, "depth", "the object nests too deep to be read") from None


def _checked(data: Any) -> Review:
    """The AdmissionReview a decoded body holds; BadRequest saying what is wrong with it."""
    if not isinstance(data, dict):
        raise BadRequest(
            400, "envelope", f"expected an AdmissionReview object, got a JSON {_type(data)}"
        )
    api_version, kind = data.get("apiVersion"), data.get("kind")
    if api_version not in API_VERSIONS:
        raise BadRequest(
            400,
            "envelope",
            f"apiVersion must be one of {', '.join(API_VERSIONS)}, got {_show(api_version)}",
        )
    if kind != KIND:
        raise BadRequest(400, "envelope", f"kind must be {KIND}, got {_show(kind)}")
    request = data.get("request")
    if not isinstance(request, dict):
        missing = "request" not in data or request is None
        raise BadRequest(
            400,
            "envelope",
            "the AdmissionReview has no request"
            if missing
            else f"request must be an object, got a JSON {_type(request)}",
        )
    uid = request.get("uid")
    if not isinstance(uid, str) or not uid:
        raise BadRequest(400, "envelope", "request.uid must be a non-empty string")
    obj = request.get("object")
    if obj is not None and not isinstance(obj, dict):
        raise BadRequest(
            400, "envelope", f"request.object must be an object, got a JSON {_type(obj)}"
        )
    return Review(api_version, uid, request)


def _too_deep() -> BadRequest:
    return BadRequest(400, "depth", "the request nests too deep to be read")


_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_TOKEN = re.compile(rb'"(?:[^"\\]|\\.)*"|[][{}:,]')


def envelope(body: bytes | bytearray) -> tuple[str, str] | None:
    """(apiVersion, request.uid) read from the JSON text without decoding the rest, so that a
    request whose object cannot be decoded (too deep, cut short) is still answered by uid.

    A scan of the tokens with a stack of what each bracket opened: linear, and iterative,
    whatever the nesting."""
    stack: list[tuple[bytes, str | None]] = []
    key: str | None = None
    value_next = False
    api_version: str | None = None
    uid: str | None = None
    for match in _TOKEN.finditer(body):
        token = match.group()
        first = token[:1]
        if first in (b"{", b"["):
            stack.append((first, key if value_next else None))
            key, value_next = None, False
        elif first in (b"}", b"]"):
            if stack:
                stack.pop()
            key, value_next = None, False
        elif first == b":":
            value_next = True
        elif first == b",":
            key, value_next = None, False
        else:
            try:
                text = json.loads(token)
            except ValueError:
                continue
            if not value_next:
                key = text if stack and stack[-1][0] == b"{" else None
                continue
            if len(stack) == 1 and key == "apiVersion":
                api_version = text
            elif len(stack) == 2 and stack[1] == (b"{", "request") and key == "uid":
                uid = text
            key, value_next = None, False
        if api_version is not None and uid is not None:
            break
    if api_version in API_VERSIONS and isinstance(uid, str) and uid:
        return str(api_version), uid
    return None


def _type(value: Any) -> str:
    return {
        dict: "object",
        list: "array",
        str: "string",
        bool: "boolean",
        int: "number",
        float: "number",
    }.get(type(value), "null")


def _show(value: Any) -> str:
    if value is None:
        return "nothing"
    text = json.dumps(value)
    return text if len(text) <= 80 else text[:77] + "..."


def encode_review(api_version: str, uid: str, response: Mapping[str, Any]) -> bytes:
    """The AdmissionReview answering request `uid`; `response` holds every field but the uid."""
    review = {
        "apiVersion": api_version,
        "kind": KIND,
        "response": {"uid": uid, **response},
    }
    if _ENCODE is None:
        return _COMPACT.encode(review).encode()
    return "".join(_ENCODE(review, 0)).encode()


_COMPACT = json.JSONEncoder(separators=(",", ":"))
"""`json.dumps(..., separators=(",", ":"))`, built once rather than per answer. ASCII with
escapes: a lone surrogate copied from the object (a name, a message) is then a valid JSON escape
rather than an encoding error."""
_ENCODE = (
    json.encoder.c_make_encoder(  # type: ignore[attr-defined]
        None,
        _COMPACT.default,
        json.encoder.encode_basestring_ascii,
        None,
        ":",
        ",",
        False,
        False,
        True,
    )
    if json.encoder.c_make_encoder is not None  # type: ignore[attr-defined]
    else None
)
"""`_COMPACT`'s C encoder, which `JSONEncoder.encode` makes anew on every call, made once (an
answer holds no reference cycle, so it keeps no record of the objects it is in)."""


def encode_error(error: BadRequest) -> bytes:
    """A Kubernetes Status, which the API server's client decodes and logs with its message."""
    status = {
        "apiVersion": "v1",
        "kind": "Status",
        "status": "Failure",
        "message": error.message,
        "reason": "RequestEntityTooLarge" if error.status == 413 else "BadRequest",
        "code": error.status,
    }
    return json.dumps(status, separators=(",", ":")).encode()


_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_UNIT = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "μs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}


@lru_cache(maxsize=32)  # the API server sends the same few values again and again
def parse_timeout(text: str) -> float:
    """Seconds in a Go duration (`5s`, `1m0s`, `500ms`), as the API server's `?timeout=` is."""
    pos, total = 0, 0.0
    for match in _DURATION.finditer(text):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNIT[match.group(2)]
        pos = match.end()
    if not text or pos != len(text):
        raise BadRequest(
            400, "timeout", f"timeout must be a duration such as 10s or 500ms, got {text!r}"
        )
    if total <= 0:
        raise BadRequest(400, "timeout", f"timeout must be positive, got {text!r}")
    return total
