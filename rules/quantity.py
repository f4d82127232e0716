"""Kubernetes resource quantities (`500m`, `16Gi`, `1.5`, `2e3`): one parser for every rule.

The grammar is the API's own (k8s.io/apimachinery/pkg/api/resource/quantity.go):

    <quantity>        ::= <signedNumber><suffix>
    <signedNumber>    ::= <number> | <sign><number>
    <number>          ::= <digits> | <digits>.<digits> | <digits>. | .<digits>
    <suffix>          ::= <binarySI> | <decimalExponent> | <decimalSI>
    <binarySI>        ::= Ki | Mi | Gi | Ti | Pi | Ei
    <decimalSI>       ::= m | "" | k | M | G | T | P | E
    <decimalExponent> ::= "e" <signedNumber> | "E" <signedNumber>

The exponent is read as a whole number (the API's suffixer parses it as an integer), and no
space or other character is allowed anywhere. Values are exact (fractions, never floats) and
bounded as the API bounds them: a magnitude above 2^63-1 is capped there and a non-zero value
below one nano-unit is rounded up to it, so `1e400` or `1e-400` is an ordinary number rather than
an overflow. JSON numbers are quantities too (the API's schema takes a string or a number);
booleans, NaN and infinities are not.
"""

from __future__ import annotations

import functools
import math
import re
from typing import TYPE_CHECKING, Any

from mllint.rules.model import Regex

if TYPE_CHECKING:
    from fractions import Fraction

_MAX_WHOLE = 2**63 - 1


@functools.cache
def _bounds() -> tuple[Fraction, Fraction]:
    """MAX and NANO. `fractions` is imported when a quantity is not a whole number (a millisecond
    of start-up: a run that meets only whole quantities, such as `1` or `8Gi`, never needs it)."""
    from fractions import Fraction

    return Fraction(_MAX_WHOLE), Fraction(1, 10**9)


def __getattr__(name: str) -> Any:
    """`MAX`: the largest magnitude a quantity holds; larger ones are capped there, as the API
    caps them. `NANO`: the smallest non-zero magnitude; smaller ones are rounded up to it."""
    if name in ("MAX", "NANO"):
        return _bounds()[name == "NANO"]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_NUMBER = Regex(
    r"(?P<sign>[+-]?)(?P<int>[0-9]*)(?:\.(?P<frac>[0-9]*))?(?P<suffix>[A-Za-z]{1,2}|[eE][+-]?[0-9]+)?",
    re.ASCII,
)
_DECIMAL = {"m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_BINARY = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_EXPONENT = Regex(r"[eE][+-]?[0-9]+", re.ASCII)
_MAX_TEXT = 256
"""Longer text is no quantity a person wrote; refusing it keeps parsing cheap."""
_MAX_DIGITS = len(str(_MAX_WHOLE))
"""Digits of MAX: a number with more whole digits is larger."""


def parse(value: Any) -> Fraction | None:
    """The exact value of a quantity, bounded as the API bounds it; None when not a quantity."""
    from fractions import Fraction

    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return _bounded(Fraction(value))
    if isinstance(value, float):
        return _bounded(Fraction(value)) if math.isfinite(value) else None
    if not isinstance(value, str) or not value or len(value) > _MAX_TEXT:
        return None
    return _text(value)


@functools.lru_cache(maxsize=4096)
def _text(value: str) -> Fraction | None:
    """A quantity written as text. Manifests repeat a few values (`1`, `500m`, `16Gi`) over and
    over, and exact arithmetic costs tens of microseconds a value: each is parsed once."""
    from fractions import Fraction

    match = _NUMBER.fullmatch(value)
    if match is None:
        return None
    whole, frac = match["int"], match["frac"] or ""
    if not whole and not frac:
        return None  # a sign or a dot alone is no number
    scale = _scale(match["suffix"] or "")
    if scale is None:
        return None
    base, exponent = scale
    max_, nano = _bounds()
    if not (whole + frac).strip("0"):
        return Fraction(0)
    # The number is below 10^magnitude and at least 10^(magnitude - 1) when it has whole
    # digits; the bounds are decided from that before any large power is computed.
    magnitude = len(whole.lstrip("0"))
    power = exponent if base == 10 else 0
    if magnitude - 1 + power >= _MAX_DIGITS:
        amount = max_
    elif magnitude + power < -9:
        amount = nano
    else:
        amount = Fraction(int(whole + frac), 10 ** len(frac))
        amount *= Fraction(10) ** exponent if base == 10 else 2**exponent
    signed = -amount if match["sign"] == "-" else amount
    return _bounded(signed)


def _scale(suffix: str) -> tuple[int, int] | None:
    """(base, exponent) of a suffix, None when the API does not know it."""
    if suffix in _DECIMAL:
        return 10, _DECIMAL[suffix]
    if suffix in _BINARY:
        return 2, _BINARY[suffix]
    if _EXPONENT.fullmatch(suffix) and len(suffix) <= 12:
        return 10, int(suffix[1:])
    return None


def _bounded(amount: Fraction) -> Fraction:
    from fractions import Fraction

    max_, nano = _bounds()
    size = abs(amount)
    if size > max_:
        size = max_
    elif 0 < size < nano:
        size = nano
    elif size.denominator > 10**9:
        # Rounded up to whole nano-units, as the API rounds.
        size = Fraction(math.ceil(size * 10**9), 10**9)
    return -size if amount < 0 else size


def quantity(value: Any) -> float | None:
    """A quantity as a float (bounded, so always finite); None when it is not one."""
    if isinstance(value, str):
        return _text_float(value) if value and len(value) <= _MAX_TEXT else None
    if isinstance(value, int) and not isinstance(value, bool):
        return float(max(-_MAX_WHOLE, min(value, _MAX_WHOLE)))  # what the bounded fraction gives
    amount = parse(value)
    return None if amount is None else float(amount)


@functools.lru_cache(maxsize=4096)
def _text_float(value: str) -> float | None:
    # Rules ask for the same few values on every object; a fraction's float costs microseconds.
    whole = _whole(value)
    if whole is not None:
        return float(min(whole, _MAX_WHOLE))
    amount = _text(value)
    return None if amount is None else float(amount)


_WHOLE_UNITS: dict[str, int] = {"": 1} | {k: 10**v for k, v in _DECIMAL.items() if v > 0}
_WHOLE_UNITS |= {k: 2**v for k, v in _BINARY.items()}


def _whole(value: str) -> int | None:
    """The value of a quantity written as digits and a suffix that keeps it whole (`1`, `8Gi`,
    `2k`), exactly and without fractions; None for any other text."""
    size = 2 if value[-1:] == "i" else 1 if value[-1:] in _DECIMAL else 0
    digits, suffix = value[: len(value) - size], value[len(value) - size :]
    if not (digits.isascii() and digits.isdigit()) or suffix not in _WHOLE_UNITS:
        return None
    return int(digits) * _WHOLE_UNITS[suffix]
