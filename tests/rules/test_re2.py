"""`rules.re2` rewrites the engine's look-around patterns into RE2 patterns that match in
exactly the same strings, checked with RE2 itself (google-re2) against Python's `re`."""

from __future__ import annotations

import random
import re

import pytest
import re2 as google_re2

from mllint.rules import re2, traits

LOOK_AROUND = [
    traits._RAY_MEMBER,
    traits._ML_COMMAND,
    *(s.image for s in traits.MODEL_SERVERS),
    *(s.command for s in traits.MODEL_SERVERS if s.command is not None),
]
PIECES = [
    "ray start", "ray  start", "ray\tstart", " --head", "--", "-", "head", "hea", "h", "d", "e",
    "a", "\n", " ", "x", "ray\nstart", "resource-", "resource_", "RESOURCE-", "model", "_",
    "Model", "jetstream", "-http", "-htt", "vllm serve", "serve run", "--HEAD", "train",
    "multi-node-serving.sh worker", "sour", "ce-", "torch",
]  # fmt: skip


@pytest.mark.parametrize("pattern", LOOK_AROUND, ids=lambda p: p.pattern[:30])
def test_rewritten_patterns_match_where_the_engines_do(pattern: re.Pattern[str]) -> None:
    translated = re2.translate(pattern.pattern)
    compiled = google_re2.compile(translated) if translated is not None else None
    rng = random.Random(pattern.pattern)
    for _ in range(3000):
        text = "".join(rng.choice(PIECES) for _ in range(rng.randint(0, 8)))
        want = pattern.search(text) is not None
        got = compiled is not None and compiled.search(text) is not None
        assert got == want, (pattern.pattern, text)


def test_the_rewrites_cover_the_look_around_the_tables_use() -> None:
    assert re2.translate(r"(?!)") is None
    assert re2.translate(r"a(?!bc)") == "a(?:$|[^b]|b(?:$|[^c]))"
    assert google_re2.search(re2.translate(r"(?<!x-)y") or "", "a-y")
    assert not google_re2.search(re2.translate(r"(?<!x-)y") or "", "x-y")


@pytest.mark.parametrize("pattern", [r"a(?=b)", r"(?<=a)b", r"a(?!b)c", r"(?s)a(?!.*b)"])
def test_a_look_around_it_cannot_rewrite_is_refused(pattern: str) -> None:
    with pytest.raises(re2.Unsupported):
        re2.translate(pattern)
