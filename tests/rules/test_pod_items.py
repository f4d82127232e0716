"""A pod's containers and volumes (`Subject._pod`): a `/key/*` pattern over a list is read
without `pointer.expand`; the pointers, order and items are those `expand` finds, whatever the
pod spec holds under the key (a list, a mapping, a scalar, items that are not objects)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mllint.rules import Engine
from mllint.rules import pointer as jp
from mllint.rules.operators import OPERATOR_KINDS
from mllint.rules.workload import BUILTIN_KINDS, Pod, _list_key

ENGINE = Engine()


def _expected(pod: Pod) -> tuple[list[tuple[str, bool]], list[str]]:
    """(pointer, init) of each container and the pointer of each volume, as `expand` finds
    them."""
    template, spec, at = pod.template, pod.spec, pod.pointer
    containers = [
        (at + c_at, init)
        for patterns, init in (
            (template.init_containers, True),
            (template.main_containers, False),
            (template.containers, False),
        )
        for pattern in patterns
        for c_at, c_spec in jp.expand(spec, pattern)
        if isinstance(c_spec, dict)
    ]
    volumes = [at + v_at for v_at, v in jp.expand(spec, "/volumes/*") if isinstance(v, dict)]
    volumes += [
        v_at
        for pattern in template.volumes
        for v_at, v in jp.expand(pod.obj, pattern)
        if isinstance(v, dict)
    ]
    return containers, volumes


ITEM = st.one_of(
    st.fixed_dictionaries({"name": st.sampled_from(["a", "b/c", "d~e"])}),
    st.none(),
    st.just("x"),
)
ITEMS = st.one_of(
    st.lists(ITEM, max_size=3),
    st.dictionaries(st.sampled_from(["a", "b/c", "d~e", "0"]), ITEM, max_size=3),
    st.none(),
    st.just("text"),
    st.just(3),
)


@settings(derandomize=True, max_examples=400, deadline=None, database=None)
@given(ITEMS, ITEMS, ITEMS)
def test_a_pods_containers_and_volumes_are_where_expand_finds_them(
    init: Any, main: Any, volumes: Any
) -> None:
    spec: dict[str, Any] = {}
    for key, value in (("initContainers", init), ("containers", main), ("volumes", volumes)):
        if value is not None:
            spec[key] = value
    obj = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "x"},
        "spec": {"template": {"spec": spec}},
    }
    subject = ENGINE.subject(obj)
    (pod,) = subject.pods
    containers, volumes = _expected(pod)
    assert [(c.pointer, c.init) for c in pod.containers] == containers
    assert [c.spec for c in pod.containers] == [jp.resolve(obj, p) for p, _ in containers]
    assert [at for at, _ in pod.volumes] == volumes
    assert [v for _, v in pod.volumes] == [jp.resolve(obj, p) for p in volumes]


def test_every_kinds_container_patterns_are_read_as_expand_reads_them() -> None:
    patterns = {
        p
        for kind in BUILTIN_KINDS + OPERATOR_KINDS
        for t in kind.templates
        for p in (*t.init_containers, *t.main_containers, *t.containers)
    }
    assert "/containers/*" in patterns
    for pattern in patterns:
        key = _list_key(pattern)
        if key is not None:
            doc = {key: [{"n": 1}, {"n": 2}]}
            assert [(f"/{key}/{i}", item) for i, item in enumerate(doc[key])] == list(
                jp.expand(doc, pattern)
            )


@pytest.mark.parametrize(
    ("pattern", "key"),
    [
        ("/containers/*", "containers"),
        ("/initContainers/*", "initContainers"),
        ("/model", None),
        ("/containerSet/containers/*", None),
        ("/*/*", None),
        ("/a~1b/*", None),
        ("/a~0b/*", None),
        ("/containers/*/x", None),
        ("/containers/*x", None),
        ("containers/*", None),
        ("//*", None),
        ("", None),
    ],
)
def test_only_plain_key_list_patterns_are_read_without_expand(
    pattern: str, key: str | None
) -> None:
    assert _list_key(pattern) == key
