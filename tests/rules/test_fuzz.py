"""Property: whatever JSON an object holds in whatever field, every rule, `fix_ops` and the JSON
Patch application finish without an exception, and a planned patch applies to the object.

Objects are drawn at random and by mutating real ones: every rule's fixtures and a sample of
the shared corpus. Hypothesis runs derandomized with a fixed number of examples, so CI sees the
same cases each run and the suite stays fast; `bench/fuzz.py` runs the same mutations for as
long as it is asked to.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import yaml
from fixture_tools import FIXTURES
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mllint.rules import Engine, fix_ops, parse_config
from mllint.rules import pointer as jp
from mllint.rules.model import Finding
from mllint.rules.operators import OPERATOR_KINDS
from mllint.rules.patch import apply
from mllint.rules.workload import BUILTIN_KINDS

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"
ENGINE = Engine(parse_config({"select": ["ALL"]}, "fuzz"))
FUZZ = settings(
    derandomize=True,
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

NASTY: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    2**70,
    1e308,
    math.inf,
    -math.inf,
    math.nan,
    "",
    "_",
    "1e400",
    "-1e400",
    "0.5",
    "\ud800",
    "latest",
    "Always",
    "Forbid",
    "nvidia.com/gpu",
    [],
    {},
    [None],
    [[]],
    [{}],
    {"name": []},
    {"nvidia.com/gpu": "1e400"},
    {"": {}},
    {"~1/": "x"},
]
"""Values that have broken rules before, or would if a rule trusted a field's type."""

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
    | st.sampled_from(NASTY),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(["name", "image", "resources", "limits", "nvidia.com/gpu", "x"])
            | st.text(max_size=8),
            children,
            max_size=4,
        )
    ),
    max_leaves=12,
)


def _load(path: Path) -> list[dict[str, Any]]:
    try:
        docs = list(yaml.load_all(path.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader))
    except (yaml.YAMLError, UnicodeDecodeError, RecursionError):
        return []
    return [d for d in docs if isinstance(d, dict) and d.get("kind")]


def fixture_objects() -> list[dict[str, Any]]:
    objects: list[dict[str, Any]] = []
    for path in sorted(FIXTURES.glob("*/*.yaml")):
        objects += _load(path)
    return objects


def corpus_objects(limit: int = 60) -> list[dict[str, Any]]:
    """Up to `limit` corpus objects, one per known kind first, then any."""
    if not CORPUS.is_dir():
        return []
    kinds = {k.kind for k in (*BUILTIN_KINDS, *OPERATOR_KINDS)}
    chosen: dict[str, dict[str, Any]] = {}
    rest: list[dict[str, Any]] = []
    for path in sorted(CORPUS.rglob("*.y*ml")):
        for obj in _load(path):
            kind = obj.get("kind")
            if kind in kinds and kind not in chosen:
                chosen[kind] = obj
            elif len(rest) < limit:
                rest.append(obj)
    return (list(chosen.values()) + rest)[:limit]


SEEDS = fixture_objects()


def paths(node: Any, at: str = "") -> list[str]:
    """Every pointer in `node` (the root excluded)."""
    out: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            child = jp.join(at, str(key))
            out += [child, *paths(value, child)]
    elif isinstance(node, list):
        for index, value in enumerate(node):
            child = f"{at}/{index}"
            out += [child, *paths(value, child)]
    return out


def mutate(obj: dict[str, Any], data: st.DataObject) -> dict[str, Any]:
    """A copy of `obj` with a few fields replaced by arbitrary JSON, or keys added."""
    import copy

    out = copy.deepcopy(obj)
    for _ in range(data.draw(st.integers(1, 4))):
        where = paths(out)
        if not where:
            break
        target = data.draw(st.sampled_from(where))
        tokens = jp.split(target)
        parent = jp.resolve(out, jp.parent(target))
        # A copy: the NASTY values are shared objects, and a later step may write into one.
        value = copy.deepcopy(data.draw(json_values))
        if isinstance(parent, dict):
            key = tokens[-1] if data.draw(st.booleans()) else data.draw(st.text(max_size=6))
            parent[key] = value
        elif isinstance(parent, list):
            parent[int(tokens[-1])] = value
    return out


def judge(obj: Any) -> None:
    """Every rule, the fixes (safe and unsafe), and their application: none may raise."""
    findings: list[Finding] = ENGINE.evaluate(obj)
    for unsafe in (False, True):
        ops = fix_ops(obj, findings, unsafe=unsafe)
        if ops:
            patched = apply(obj, ops)
            assert isinstance(patched, dict)
    for finding in findings:
        assert isinstance(finding.message, str)
        assert finding.pointer == "" or finding.pointer.startswith("/")


@FUZZ
@given(st.data())
def test_mutated_fixtures(data: st.DataObject) -> None:
    judge(mutate(data.draw(st.sampled_from(SEEDS)), data))


@FUZZ
@given(
    st.sampled_from([(k.group, k.versions[0], k.kind) for k in (*BUILTIN_KINDS, *OPERATOR_KINDS)]),
    json_values,
    json_values,
)
def test_random_objects_of_every_kind(kind: tuple[str, str, str], spec: Any, meta: Any) -> None:
    group, version, name = kind
    judge(
        {
            "apiVersion": f"{group}/{version}" if group else version,
            "kind": name,
            "metadata": meta,
            "spec": spec,
        }
    )


@pytest.fixture(scope="module")
def corpus() -> list[dict[str, Any]]:
    objects = corpus_objects()
    if not objects:
        pytest.skip(f"the shared corpus is not at {CORPUS}")
    return objects


def test_mutated_corpus_objects(corpus: list[dict[str, Any]]) -> None:
    @settings(FUZZ, max_examples=100)
    @given(st.sampled_from(corpus), st.data())
    def run(obj: dict[str, Any], data: st.DataObject) -> None:
        judge(mutate(obj, data))

    run()


def gpu_deployment(resources: Any, **pod: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "serve"},
        "spec": {
            "template": {
                "spec": {
                    "containers": [{"name": "serve", "image": "vllm:0.6", "resources": resources}],
                    **pod,
                }
            }
        },
    }


@pytest.mark.parametrize(
    "obj",
    [
        {
            "apiVersion": "batch/v1",
            "kind": "CronJob",
            "metadata": {"name": "nightly"},
            "spec": {"concurrencyPolicy": ["Allow"], "schedule": "0 0 * * *"},
        },
        gpu_deployment(
            {"limits": {"nvidia.com/gpu": 1}},
            volumes=[{"name": "data", "emptyDir": {}}],
            containers=[
                {
                    "name": "a",
                    "image": "x:1",
                    "volumeMounts": [{"name": ["data"], "mountPath": "/data"}],
                }
            ],
        ),
        gpu_deployment({"requests": {"nvidia.com/gpu": 1}, "limits": "8"}),
        gpu_deployment({"requests": {"nvidia.com/gpu": 1}, "limits": ["1"]}),
        gpu_deployment({"limits": {"nvidia.com/gpu": 1}}, tolerations=-1),
    ],
    ids=["concurrency-list", "mount-name-list", "limits-string", "limits-list", "tolerations-int"],
)
def test_fields_of_the_wrong_type(obj: dict[str, Any]) -> None:
    judge(obj)


def test_a_null_parent_is_created_and_other_fixes_kept() -> None:
    """`limits:` left empty reads as null: the fix replaces it with a mapping holding the GPU,
    and the fixes of other findings are in the same patch."""
    obj = gpu_deployment({"requests": {"nvidia.com/gpu": 2}, "limits": None})
    obj["spec"]["template"]["spec"]["containers"][0]["image"] = "vllm"
    findings = ENGINE.evaluate(obj)
    assert {"ML101", "ML601"} <= {f.code for f in findings}
    ops = fix_ops(obj, findings)
    limits = "/spec/template/spec/containers/0/resources/limits"
    assert {"op": "replace", "path": limits, "value": {}} in ops
    fixed = apply(obj, ops)
    assert fixed["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"] == {
        "nvidia.com/gpu": 2
    }
    assert not fix_ops(fixed, ENGINE.evaluate(fixed))


def test_a_fix_that_cannot_apply_leaves_the_others() -> None:
    from mllint.rules.patch import plan

    doc = {"a": "text", "b": {}}
    ops = plan(
        doc,
        [[{"op": "add", "path": "/a/x", "value": 1}], [{"op": "add", "path": "/b/y", "value": 2}]],
    )
    assert ops == [{"op": "add", "path": "/b/y", "value": 2}]
    doc2 = {"a": [1], "b": {}}
    ops = plan(
        doc2,
        [
            [
                {"op": "add", "path": "/b/z", "value": 3},
                {"op": "add", "path": "/a/key/x", "value": 1},
            ],
            [{"op": "add", "path": "/b/y", "value": 2}],
        ],
    )
    assert ops == [{"op": "add", "path": "/b/y", "value": 2}]  # the first fix is left out whole
