"""Work on one object grows linearly with its size: counted in executed lines of the engine (a
deterministic measure, unlike time), for objects ten times apart in size."""

from __future__ import annotations

import sys
from collections.abc import Callable
from types import FrameType
from typing import Any

from mllint.rules import Engine, engine

ENGINE_FILE = engine.__file__


def lines_run(call: Callable[[], object]) -> int:
    """Lines of rules/engine.py executed by `call`."""
    count = 0

    def trace(frame: FrameType, event: str, arg: Any) -> Any:
        nonlocal count
        if frame.f_code.co_filename != ENGINE_FILE:
            return None
        if event == "line":
            count += 1
        return trace

    sys.settrace(trace)
    try:
        call()
    finally:
        sys.settrace(None)
    return count


def jobset(groups: int) -> dict[str, Any]:
    """A JobSet whose every replicated Job suppresses ML101 on its pod template."""
    replicated = [
        {
            "name": f"worker-{i}",
            "template": {
                "spec": {
                    "template": {
                        "metadata": {"annotations": {"ignore-check.mllint.io/ML101": "quota"}},
                        "spec": {
                            "restartPolicy": "Never",
                            "containers": [
                                {
                                    "name": "train",
                                    "image": "trainer:1.0",
                                    "resources": {"requests": {"nvidia.com/gpu": 1}},
                                }
                            ],
                        },
                    }
                }
            },
        }
        for i in range(groups)
    ]
    return {
        "apiVersion": "jobset.x-k8s.io/v1alpha2",
        "kind": "JobSet",
        "metadata": {"name": "pretrain"},
        "spec": {"replicatedJobs": replicated},
    }


def test_suppression_is_linear_in_the_templates() -> None:
    e = Engine()
    small, large = jobset(100), jobset(1000)
    assert not any(f.code == "ML101" for f in e.evaluate(large))  # every one suppressed
    ratio = lines_run(lambda: e.evaluate(large)) / lines_run(lambda: e.evaluate(small))
    assert ratio < 15, f"10x the templates cost {ratio:.0f}x the work"
