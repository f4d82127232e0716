"""`Document.span`: where the node a JSON Pointer names starts and ends, for an editor to mark."""

from __future__ import annotations

import pytest

from mllint.linter.loader import Position, load

TEXT = """\
apiVersion: v1
kind: Pod
metadata:
  name: notebook
  labels: {app: jupyter, tier: gpu}
spec:
  containers:
    - name: jupyter
      image: quay.io/jupyter/pytorch-notebook:2024-10-07   # pinned
      args: ["start-notebook.py", "--NotebookApp.token="]
      command:
        - bash
      env:
        - name: SCRIPT
          value: |
            python train.py
            echo done
  volumes: []
"""


def marked(pointer: str) -> str:
    """The text a pointer's span covers, one line or `first line...last line`."""
    doc = next(load(TEXT))
    start, end = doc.span(pointer)
    assert start == doc.locate(pointer), "a span starts where the linter reports the finding"
    lines = TEXT.splitlines()
    if start.line == end.line:
        return lines[start.line - 1][start.column - 1 : end.column - 1]
    return lines[start.line - 1][start.column - 1 :] + "..." + lines[end.line - 1][: end.column - 1]


@pytest.mark.parametrize(
    ("pointer", "covered"),
    [
        # A scalar member: key and value, not the comment after it.
        ("/spec/containers/0/image", "image: quay.io/jupyter/pytorch-notebook:2024-10-07"),
        # Flow collections, whole.
        ("/metadata/labels", "labels: {app: jupyter, tier: gpu}"),
        ("/metadata/labels/tier", "tier: gpu"),
        ("/spec/containers/0/args/1", '"--NotebookApp.token="'),
        ("/spec/volumes", "volumes: []"),
        # A block collection over several lines: its key; a list item: its first line.
        ("/spec/containers", "containers"),
        ("/spec/containers/0", "name: jupyter"),
        ("/spec/containers/0/command", "command"),
        ("", "apiVersion: v1"),
        # A pointer to nothing: the nearest field that exists, marked the same way.
        ("/spec/containers/0/resources/limits", "name: jupyter"),
        ("/metadata/annotations", "metadata"),
        ("/spec/containers/3", "containers"),
    ],
)
def test_span_covers_the_node(pointer: str, covered: str) -> None:
    assert marked(pointer) == covered


def test_a_block_scalar_ends_at_the_start_of_the_line_after_it() -> None:
    doc = next(load(TEXT))
    start, end = doc.span("/spec/containers/0/env/0/value")
    value = TEXT.splitlines().index("          value: |") + 1
    assert start == Position(value, 11)
    assert end == Position(value + 3, 1)


def test_span_of_a_one_line_document() -> None:
    doc = next(load("kind: Pod"))
    assert doc.span("") == (Position(1, 1), Position(1, 10))
