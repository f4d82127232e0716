"""Container resources: GPU resource names and quantity parsing, shared by the rules."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_GPU = re.compile(
    r"^(?:[a-z0-9.-]+\.[a-z]+/gpu"  # nvidia.com/gpu, amd.com/gpu, any vendor's */gpu
    r"|gpu\.intel\.com/[a-z0-9.-]+"  # gpu.intel.com/i915, gpu.intel.com/xe
    r"|nvidia\.com/mig-[a-z0-9.-]+"  # MIG slices: nvidia.com/mig-1g.5gb
    r")$"
)


def is_gpu(resource: str) -> bool:
    """Whether a resource name is a GPU extended resource a device plugin advertises."""
    return bool(_GPU.match(resource))


def section(container: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    """`resources.<name>` of a container as a mapping (empty when absent or malformed)."""
    resources = container.get("resources")
    if not isinstance(resources, dict):
        return {}
    value = resources.get(name)
    return value if isinstance(value, dict) else {}


_SUFFIX = {
    "": 1,
    "m": 1e-3,
    "k": 1e3,
    "M": 1e6,
    "G": 1e9,
    "T": 1e12,
    "P": 1e15,
    "E": 1e18,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "Pi": 2**50,
    "Ei": 2**60,
}
_QUANTITY = re.compile(r"^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)([a-zA-Z]*)$")


def quantity(value: Any) -> float | None:
    """A Kubernetes quantity (`500m`, `16Gi`, `2`) as a number; None when it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    match = _QUANTITY.match(str(value).strip())
    if not match or match.group(2) not in _SUFFIX:
        return None
    try:
        return float(match.group(1)) * _SUFFIX[match.group(2)]
    except ValueError:
        return None
