"""What several rules read from objects: quantities (parsed by `rules.quantity`), image
references, and fields that may be absent (lifecycle settings, autoscaler targets). What a
workload is (its accelerators, its purpose) is `traits`'s."""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from typing import Any

from mllint.rules import pointer as jp
from mllint.rules.model import Frozen, set_field


def section(container: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    """`resources.<name>` of a container as a mapping (empty when absent or malformed)."""
    resources = container.get("resources")
    if not isinstance(resources, dict):
        return {}
    value = resources.get(name)
    return value if isinstance(value, dict) else {}


class ImageRef(Frozen):
    """A container image reference split as the container runtime reads it."""

    __slots__ = _fields = ("name", "tag", "digest")

    name: str
    """Registry (with its port, if any) and repository: `localhost:5000/team/bert`."""
    tag: str | None
    digest: str | None

    def __init__(self, name: str, tag: str | None, digest: str | None) -> None:
        set_field(self, "name", name)
        set_field(self, "tag", tag)
        set_field(self, "digest", digest)

    @property
    def floating(self) -> bool:
        """Whether the reference names whatever `latest` is at pull time."""
        return self.digest is None and self.tag in (None, "latest")


def parse_image(reference: str) -> ImageRef:
    """`[registry[:port]/]repository[:tag][@digest]`; a colon before the last `/` is a port."""
    name, at, digest = reference.partition("@")
    tag: str | None = None
    colon = name.rfind(":")
    if colon > name.rfind("/"):
        name, tag = name[:colon], name[colon + 1 :]
    return ImageRef(name, tag, digest if at else None)


class Field(Frozen):
    """A field a rule wants set, found or not.

    `owner` points to the mapping that holds the field, or, when that mapping is missing too,
    to its nearest existing ancestor: where a finding about the missing field is shown.
    """

    __slots__ = _fields = ("at", "owner", "present", "value")

    at: str
    owner: str
    present: bool
    value: Any

    def __init__(self, at: str, owner: str, present: bool, value: Any = None) -> None:
        set_field(self, "at", at)
        set_field(self, "owner", owner)
        set_field(self, "present", present)
        set_field(self, "value", value)


def fields(obj: Any, pattern: str) -> Iterator[Field]:
    """The field(s) a pointer pattern names; a `*` in the pattern may match several owners.

    Nothing is yielded when the path runs through a value that is not a mapping or a list
    (a malformed object that the API server rejects on its own).
    """
    steps, leaf, wildcard = _steps(pattern)
    if wildcard:
        for at, node in jp.expand(obj, jp.parent(pattern)):
            if isinstance(node, dict):
                yield Field(jp.join(at, leaf), at, leaf in node, node.get(leaf))
        return
    node, at = obj, ""
    for token, reached in steps:
        if not isinstance(node, dict | list):
            return
        try:
            node = jp.step(node, token)
        except KeyError:
            if isinstance(node, dict):
                yield Field(pattern, at, False)
            return
        at = reached
    if isinstance(node, dict):
        yield Field(pattern, at, leaf in node, node.get(leaf))


@functools.lru_cache(maxsize=1024)
def _steps(pattern: str) -> tuple[tuple[tuple[str, str], ...], str, bool]:
    """A field pattern's tokens before its leaf, each with the pointer that reaches it; the
    leaf; whether a token before it is a wildcard. Lifecycle rules ask for a few patterns on
    every object, each split once here."""
    *head, leaf = jp.split(pattern)
    steps: list[tuple[str, str]] = []
    at = ""
    for token in head:
        at = jp.join(at, token)
        steps.append((token, at))
    return tuple(steps), leaf, jp.WILDCARD in head
