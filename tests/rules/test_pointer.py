"""Pointer patterns (`pointer.expand`): a pattern without wildcards, one of the form `/key/*`
(a pod's containers, its volumes) and any other find the same matches, written the same way."""

from __future__ import annotations

from typing import Any

import pytest

from mllint.rules import pointer as jp

DOC: dict[str, Any] = {
    "spec": {
        "template": {"spec": {"containers": [{"name": "a"}, {"name": "b"}]}},
        "replicaSpecs": {"Worker": {"template": {"x": 1}}, "Master": {"template": {"x": 2}}},
        "a/b~c": {"d": 3},
        "list": [10, [20, 21]],
        "scalar": 5,
        "none": None,
    },
    "volumes": [{"name": "v"}],
    "labels": {"k/1": "x", "k~2": "y"},
}


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("", [("", DOC)]),
        ("/spec/template/spec", [("/spec/template/spec", DOC["spec"]["template"]["spec"])]),
        ("/spec/a~1b~0c/d", [("/spec/a~1b~0c/d", 3)]),
        ("/spec/list/1/0", [("/spec/list/1/0", 20)]),
        ("/spec/list/2", []),
        ("/spec/list/x", []),
        ("/spec/scalar/x", []),
        ("/spec/none", [("/spec/none", None)]),
        ("/missing/x", []),
        ("/volumes/*", [("/volumes/0", {"name": "v"})]),
        ("/labels/*", [("/labels/k~11", "x"), ("/labels/k~02", "y")]),
        ("/spec/*", [(f"/spec/{jp.escape(k)}", v) for k, v in DOC["spec"].items()]),
        ("/missing/*", []),
        ("/spec/scalar/*", []),
        ("/*/template", [("/spec/template", DOC["spec"]["template"])]),
        (
            "/spec/template/spec/containers/*",
            [
                ("/spec/template/spec/containers/0", {"name": "a"}),
                ("/spec/template/spec/containers/1", {"name": "b"}),
            ],
        ),
        (
            "/spec/replicaSpecs/*/template",
            [
                ("/spec/replicaSpecs/Worker/template", {"x": 1}),
                ("/spec/replicaSpecs/Master/template", {"x": 2}),
            ],
        ),
        ("/spec/list/*/1", [("/spec/list/1/1", 21)]),
    ],
)
def test_expand_finds_each_match_at_its_pointer(pattern: str, expected: list[Any]) -> None:
    assert list(jp.expand(DOC, pattern)) == expected


@pytest.mark.parametrize("doc", [[{"containers": [1]}], "text", None, 3])
def test_expand_on_a_document_that_is_not_a_mapping(doc: Any) -> None:
    assert list(jp.expand(doc, "/containers/*")) == []
    assert list(jp.expand(doc, "/0/containers")) == (
        [("/0/containers", [1])] if isinstance(doc, list) else []
    )
