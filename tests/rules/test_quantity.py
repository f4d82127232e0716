"""The quantity parser: the API's grammar exactly, exact values, the API's bounds."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import pytest

from mllint.rules import Engine, parse_config
from mllint.rules.quantity import MAX, NANO, parse, quantity
from mllint.rules.traits import accelerators_of


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1", 1),
        ("0", 0),
        ("500m", Fraction(1, 2)),
        ("16Gi", 16 * 2**30),
        ("1.5", Fraction(3, 2)),
        (".5", Fraction(1, 2)),
        ("5.", 5),
        ("1.G", 10**9),
        ("+2k", 2000),
        ("-2M", -2 * 10**6),
        ("2e3", 2000),
        ("2E-3", Fraction(2, 1000)),
        ("1E", 10**18),  # E alone is the exa suffix
        ("1e400", MAX),  # capped, as the API caps it
        ("-1e400", -MAX),
        ("9223372036854775808", MAX),
        ("1e-400", NANO),  # rounded up to one nano-unit
        ("1.0000000001", Fraction(1000000001, 10**9)),  # rounded up to whole nano-units
        (2, 2),
        (0.5, Fraction(1, 2)),
        (2**80, MAX),
    ],
)
def test_quantities_the_api_accepts(text: Any, value: Fraction) -> None:
    assert parse(text) == value


@pytest.mark.parametrize(
    "text",
    [
        "",
        "+",
        "-",
        ".",
        "1e",
        "1ki",
        "1Mi5",
        " 1",
        "1 ",
        "1\n",
        "0x1",
        "1_0",
        "\u0661",  # an Arabic-Indic digit one
        "1.2.3",
        "Ki",
        "1 Gi",
        "1e1.5",
        True,
        None,
        [1],
        {"a": 1},
        float("inf"),
        float("nan"),
        "x" * 300,
    ],
)
def test_what_is_not_a_quantity(text: Any) -> None:
    assert parse(text) is None


def test_a_huge_exponent_is_answered_at_once() -> None:
    assert parse("1e9999999999") == MAX
    assert parse("1" * 250) == MAX


def gpu_job(amount: Any) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "train"},
        "spec": {
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [
                        {
                            "name": "train",
                            "image": "trainer:1.0",
                            "resources": {"limits": {"example.com/gpu": amount}},
                        }
                    ],
                }
            }
        },
    }


@pytest.mark.parametrize("amount", ["1e400", "-1e400", 1e308, float("inf"), float("nan"), "1e-400"])
def test_every_rule_takes_extreme_gpu_amounts(amount: Any) -> None:
    job = gpu_job(amount)
    counts = accelerators_of(job["spec"]["template"]["spec"]["containers"][0])
    assert all(isinstance(n, int) for n in counts.values())
    Engine(parse_config({"select": ["ALL"]}, "test")).evaluate(job)  # no OverflowError


def test_whole_quantities_read_without_fractions_give_what_the_exact_parse_gives() -> None:
    big = ("9223372036854775807", "9223372036854775808", "9" * 30)
    digits = ("0", "7", "0009", *big, "\u0661", "\u00b2")  # and digits that are not ASCII
    suffixes = ("", "m", "k", "M", "E", "Ki", "Gi", "Ei", "mi", "KI", "i", "e3", "Gib", " ")
    texts = [
        sign + number + rest + suffix
        for number in digits
        for suffix in suffixes
        for sign in ("", "-", "+")
        for rest in ("", ".5")
    ]
    for value in [*texts, "Gi", "k", "0x10", "1_000", 0, 1, -1, 2**63 - 1, 2**63, -(2**70), True]:
        exact = parse(value)
        assert quantity(value) == (None if exact is None else float(exact)), value
