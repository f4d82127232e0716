"""What several rules read from objects: GPU resource names, quantities (parsed by
`rules.quantity`), image references, and fields that may be absent (lifecycle settings,
autoscaler targets)."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from mllint.rules import pointer as jp
from mllint.rules.quantity import quantity

_GPU = re.compile(
    r"^(?:[a-z0-9.-]+\.[a-z]+/gpu"  # nvidia.com/gpu, amd.com/gpu, any vendor's */gpu
    r"|gpu\.intel\.com/[a-z0-9.-]+"  # gpu.intel.com/i915, gpu.intel.com/xe
    r"|nvidia\.com/mig-[a-z0-9.-]+"  # MIG slices: nvidia.com/mig-1g.5gb
    r")(?:\.shared)?$"  # the device plugin's rename of time-sliced or MPS-shared GPUs
)

# The name part of a key that can only mean a GPU: `gpu`, `gpus`, `nvidia-gpu`, `nvidia_gpu`.
# Names that merely contain "gpu" (`gpumem`, `vgpu-number`, `gpu-mem`) belong to GPU-sharing
# device plugins and are real resources.
_GPU_WORD = re.compile(r"^(?:[a-z0-9]+[-_])?gpus?$")


def is_gpu(resource: str) -> bool:
    """Whether a resource name is a GPU extended resource a device plugin advertises."""
    return bool(_GPU.match(resource))


def means_gpu(resource: str) -> bool:
    """Whether a resource key was written to ask for a GPU, valid name or not."""
    lowered = resource.lower()
    return is_gpu(lowered) or bool(_GPU_WORD.match(lowered.rpartition("/")[2]))


def gpu_name_for(resource: str) -> str | None:
    """The device-plugin resource name a misspelt GPU key most likely meant, None if unknown."""
    lowered = resource.lower()
    if is_gpu(lowered):
        return lowered
    if "intel" in lowered:
        return None  # gpu.intel.com/i915 or gpu.intel.com/xe: the driver decides, not the key
    if "amd" in lowered:
        return "amd.com/gpu"
    return "nvidia.com/gpu"


def section(container: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    """`resources.<name>` of a container as a mapping (empty when absent or malformed)."""
    resources = container.get("resources")
    if not isinstance(resources, dict):
        return {}
    value = resources.get(name)
    return value if isinstance(value, dict) else {}


@dataclass(frozen=True, slots=True)
class ImageRef:
    """A container image reference split as the container runtime reads it."""

    name: str
    """Registry (with its port, if any) and repository: `localhost:5000/team/bert`."""
    tag: str | None
    digest: str | None

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


@dataclass(frozen=True, slots=True)
class Field:
    """A field a rule wants set, found or not.

    `owner` points to the mapping that holds the field, or, when that mapping is missing too,
    to its nearest existing ancestor: where a finding about the missing field is shown.
    """

    at: str
    owner: str
    present: bool
    value: Any = None


def fields(obj: Any, pattern: str) -> Iterator[Field]:
    """The field(s) a pointer pattern names; a `*` in the pattern may match several owners.

    Nothing is yielded when the path runs through a value that is not a mapping or a list
    (a malformed object that the API server rejects on its own).
    """
    *head, leaf = jp.split(pattern)
    if jp.WILDCARD in head:
        for at, node in jp.expand(obj, jp.parent(pattern)):
            if isinstance(node, dict):
                yield Field(jp.join(at, leaf), at, leaf in node, node.get(leaf))
        return
    node, at = obj, ""
    for token in head:
        if not isinstance(node, dict | list):
            return
        try:
            node = jp.step(node, token)
        except KeyError:
            if isinstance(node, dict):
                yield Field(pattern, at, False)
            return
        at = jp.join(at, token)
    if isinstance(node, dict):
        yield Field(pattern, at, leaf in node, node.get(leaf))


def gpu_count(container: Mapping[str, Any]) -> int:
    """The GPUs a container asks for: its GPU limits, or its requests where no limit is set."""
    asked = {**section(container, "requests"), **section(container, "limits")}
    total = 0.0
    for resource, amount in asked.items():
        if isinstance(resource, str) and is_gpu(resource):
            total += quantity(amount) or 0
    return int(total)
