"""
## What it does
Flags a process count per pod that differs from the GPUs the pod gets:

- a PyTorchJob's `spec.nprocPerNode` (or the older `spec.elasticPolicy.nProcPerNode`) against
  the GPUs of each replica that asks for GPUs;
- a TrainJob's `spec.trainer.numProcPerNode` against the GPUs in its
  `spec.trainer.resourcesPerNode`;
- `--nproc_per_node` / `--nproc-per-node` given to `torchrun` (or `torch.distributed.run` /
  `torch.distributed.launch`) in a container's command or arguments, against that container's
  GPUs;
- the parallel sizes a model server in a single pod splits its model over, multiplied, against
  its container's GPUs: vLLM's `--tensor-parallel-size`, `--pipeline-parallel-size` and
  `--data-parallel-size`; SGLang's `--tp-size`, `--pp-size` and `--dp-size`; Text Generation
  Inference's `--num-shard` or `NUM_SHARD`; NVIDIA NIM's `NIM_TENSOR_PARALLEL_SIZE` and
  `NIM_PIPELINE_PARALLEL_SIZE`. Servers whose pods form a group (a LeaderWorkerSet, a Ray
  cluster) split the model across pods and are left alone, and so are sizes left unset.

Values that adapt to the pod (`auto`, `gpu`, `cpu`), variables and placeholders (`$GPUS`,
`${N}`) and pods without GPUs are left alone, and so are pods whose accelerators are not GPUs
(a Neuron device holds several cores, each one process) or are time-sliced shares
(`nvidia.com/gpu.shared`), where one count does not say how many devices a process sees.

## Why is this bad?
`torchrun` starts `nproc_per_node` processes in the container, and a training script gives
each one GPU (`LOCAL_RANK`). With fewer processes than GPUs, the others sit idle for the whole
run while they are paid for; with more, two ranks land on one GPU, and NCCL refuses to start
(`Duplicate GPU detected`) or the ranks run out of GPU memory. The PyTorchJob operator passes
`nprocPerNode` to `torchrun` as `PET_NPROC_PER_NODE`; Kubeflow Trainer passes a TrainJob's
`numProcPerNode` to `torchrun` (or as MPI slots) on every node. A model server uses as many
GPUs as its tensor, pipeline and data parallel sizes multiply to: a vLLM started with
`--tensor-parallel-size=4` in a pod of 8 GPUs leaves four idle, and one asked to split over more
GPUs than it has fails to start.

## Example
```yaml
kind: PyTorchJob
spec:
  nprocPerNode: "4"
  pytorchReplicaSpecs:
    Worker:
      template:
        spec:
          containers:
            - name: pytorch
              resources:
                limits: {nvidia.com/gpu: 8}
```
Use instead:
```yaml
spec:
  nprocPerNode: "8"   # or "auto": one process per GPU
```

## Fix safety
No fix: whether the process count or the GPU request is wrong is for the author to say.

## References
- [Kubeflow Training Operator `PyTorchJobSpec.nprocPerNode`: auto, cpu, gpu or an integer, default auto](https://github.com/kubeflow/training-operator/blob/master/pkg/apis/kubeflow.org/v1/pytorch_types.go)
- [Kubeflow Trainer `Trainer.numProcPerNode` and `resourcesPerNode`](https://github.com/kubeflow/trainer/blob/master/pkg/apis/trainer/v1alpha1/trainjob_types.go)
- [torchrun: `--nproc-per-node` is the number of workers per node; `gpu` starts one per GPU](https://docs.pytorch.org/docs/stable/elastic/run.html)
- [NCCL: two ranks on one GPU fail with "Duplicate GPU detected"](https://github.com/NVIDIA/nccl/issues/1066)
- [vLLM: distributed inference, tensor and pipeline parallel sizes](https://docs.vllm.ai/en/latest/serving/distributed_serving.html)
- [SGLang server arguments: `--tp-size`, `--dp-size`](https://docs.sglang.ai/backend/server_arguments.html)
- [TGI launcher: `--num-shard`, default all visible GPUs](https://huggingface.co/docs/text-generation-inference/reference/launcher)
- [NVIDIA NIM for LLMs: `NIM_TENSOR_PARALLEL_SIZE`](https://docs.nvidia.com/nim/large-language-models/latest/configuration.html)
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Mapping
from typing import Any

from mllint.rules import pointer as jp
from mllint.rules.model import Regex, Severity, Violation, rule
from mllint.rules.traits import ML_PURPOSES, accelerator, accelerators_of, is_placeholder
from mllint.rules.workload import Container, Pod, Scope

_LAUNCHER = Regex(r"\btorchrun\b|\btorch\.distributed\.(?:run|launch)\b")
_FLAG = Regex(r"--nproc[_-]per[_-]node(?:=|\s+)(\S+)")
_TRAINER = "/spec/trainer"


def gpus(accelerators: Mapping[str, int]) -> int | None:
    """The whole GPUs asked for, or None when any accelerator is not one (a Neuron device, a
    TPU, a time-sliced share) so that a process count cannot be checked against it."""
    count = 0
    for resource, amount in accelerators.items():
        found = accelerator(resource)
        if found is None or found.device != "GPU" or resource.endswith(".shared"):
            return None
        count += amount
    return count


def _count(value: Any) -> int | None:
    """A written process count, None for `auto`, `gpu`, variables and anything unreadable."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit() and not is_placeholder(value):
        return int(value.strip())
    return None


def _consequence(procs: int, n: int, device: str) -> str:
    if procs < n:
        return f"{n - procs} of its {n} {device}s sit idle"
    return f"ranks share a {device}, which NCCL refuses or which runs out of memory"


def _container_gpus(scope: Scope, c: Container) -> int | None:
    if c.pointer == _TRAINER:
        per_node = scope.obj.get("spec", {}).get("trainer", {}).get("resourcesPerNode")
        return gpus(accelerators_of({"resources": per_node})) if per_node else None
    return gpus(c.accelerators)


def _flags(c: Container) -> Iterator[tuple[str, int]]:
    """(pointer, count) of each `--nproc_per_node` given to torchrun in the container."""
    if not _LAUNCHER.search(c.command):
        return
    words = _words(c)
    for index, text in enumerate(words):
        for match in _FLAG.finditer(text):
            value = _count(match.group(1).strip("\"'"))
            if value is not None:
                yield _pointer(c, index), value
        if text in ("--nproc_per_node", "--nproc-per-node") and index + 1 < len(words):
            value = _count(words[index + 1])
            if value is not None:
                yield _pointer(c, index), value


def _replica_mismatch(pods: list[Pod], procs: int) -> Iterator[tuple[Pod, int]]:
    for pod in pods:
        main = list(pod.main_containers)
        counts = [g for c in main if (g := gpus(c.accelerators))]
        if any(gpus(c.accelerators) is None for c in main) or len(counts) != 1:
            continue  # no GPU, another accelerator, or GPUs split between containers
        if counts[0] != procs:
            yield pod, counts[0]


def check(scope: Scope, options: Any) -> Iterator[Violation]:
    spec = scope.obj.get("spec")
    if not isinstance(spec, dict):
        return
    if scope.subject.kind == "PyTorchJob":
        elastic = spec.get("elasticPolicy")
        for at, raw in (
            ("/spec/nprocPerNode", spec.get("nprocPerNode")),
            ("/spec/elasticPolicy/nProcPerNode", (elastic or {}).get("nProcPerNode")),
        ):
            procs = _count(raw)
            if procs is None:
                continue
            for pod, n in _replica_mismatch(scope.pods, procs):
                yield Violation(
                    at,
                    f"{jp.split(at)[-1]} is {procs} but each {pod.traits.replica or 'replica'} "
                    f"pod gets {n} GPUs, so torchrun starts {procs} process(es) per pod and "
                    f"{_consequence(procs, n, 'GPU')}: set it to {n} (or auto)",
                )
                break
    trainer = spec.get("trainer")
    if scope.subject.kind == "TrainJob" and isinstance(trainer, dict):
        wanted = _count(trainer.get("numProcPerNode"))
        per_node = trainer.get("resourcesPerNode")
        node_gpus = gpus(accelerators_of({"resources": per_node})) if per_node else None
        if wanted is not None and node_gpus and wanted != node_gpus:
            yield Violation(
                "/spec/trainer/numProcPerNode",
                f"numProcPerNode is {wanted} but resourcesPerNode gives each node {node_gpus} "
                f"GPUs, so {wanted} process(es) run per node and "
                f"{_consequence(wanted, node_gpus, 'GPU')}: set numProcPerNode: {node_gpus}",
            )
    for pod in scope.pods:
        for c in pod.main_containers:
            found = _server_mismatch(pod, c)
            if found is not None:
                yield found
    for c in scope.main_containers:
        if "torch" not in c.command:
            continue  # no torchrun, so no --nproc-per-node to check (`_flags`)
        held = _container_gpus(scope, c)
        if not held:
            continue
        for at, started in _flags(c):
            if started != held:
                yield Violation(
                    at,
                    f"torchrun starts {started} process(es) (--nproc-per-node) in container "
                    f"{c.name!r}, which gets {held} GPUs, so {_consequence(started, held, 'GPU')}"
                    f": pass --nproc-per-node={held} (or gpu)",
                )


# The parallel sizes a model server splits a model over, as options or environment variables:
# (flags, environment variables) per factor, the first factor the tensor-parallel size.
_PARALLEL: dict[str, tuple[tuple[tuple[str, ...], tuple[str, ...]], ...]] = {
    "vLLM": (
        (("--tensor-parallel-size", "-tp"), ()),
        (("--pipeline-parallel-size", "-pp"), ()),
        (("--data-parallel-size", "-dp"), ()),
    ),
    "SGLang": (
        (("--tp-size", "--tp"), ()),
        (("--pp-size",), ()),
        (("--dp-size", "--dp"), ()),
    ),
    "Text Generation Inference": ((("--num-shard",), ("NUM_SHARD",)),),
    "NVIDIA NIM": (
        ((), ("NIM_TENSOR_PARALLEL_SIZE",)),
        ((), ("NIM_PIPELINE_PARALLEL_SIZE",)),
    ),
}


_GIVEN: dict[str, tuple[tuple[str, ...], bool]] = {
    server: (
        tuple(flag for flags, _ in factors for flag in flags),
        any(names for _, names in factors),
    )
    for server, factors in _PARALLEL.items()
}
"""Every flag of a server's `_PARALLEL` sizes, and whether any is read from the environment: a
command line that holds none of those flags, of a server that reads none from the
environment, gives no size at all."""


@functools.cache
def _flag_pattern(flag: str) -> re.Pattern[str]:
    return re.compile(rf"(?:^|\s){re.escape(flag)}(?:=|\s+)(\S+)")


def _option(words: list[str], line: str, flags: tuple[str, ...]) -> tuple[int, str] | None:
    """(index of the word, raw value) of the first of `flags` given in the command line
    (`words`; `line`, the container's `command`, holds every flag given in them)."""
    for flag in flags:
        if flag in line:
            break
    else:
        return None
    for index, text in enumerate(words):
        for flag in flags:
            match = _flag_pattern(flag).search(text) if flag in text else None
            if match:
                return index, match.group(1).strip("\"'")
            if text == flag and index + 1 < len(words):
                return index, words[index + 1]
    return None


@functools.lru_cache(maxsize=4096)
def _options(server: str, words: tuple[str, ...], line: str) -> tuple[tuple[int, str] | None, ...]:
    """`_option` for each factor of the server's `_PARALLEL` sizes: a run or a cluster
    starts few distinct command lines, each read once here."""
    listed = list(words)
    return tuple(_option(listed, line, flags) for flags, _ in _PARALLEL[server])


def _env(c: Container, names: tuple[str, ...]) -> tuple[str, str] | None:
    if not names:
        return None
    env = c.spec.get("env")
    for index, var in enumerate(env if isinstance(env, list) else ()):
        if isinstance(var, dict) and var.get("name") in names and "value" in var:
            return jp.join(c.pointer, "env", str(index), "value"), str(var["value"])
    return None


def _words(c: Container) -> list[str]:
    """The words of the container's command and arguments: each item of a list, or a whole
    string; `_pointer` says where each is (built only for what is reported)."""
    words: list[str] = []
    for key in ("command", "args"):
        value = c.spec.get(key)
        if isinstance(value, list):
            words += map(str, value)
        elif isinstance(value, str):
            words.append(value)
    return words


def _pointer(c: Container, index: int) -> str:
    """The pointer to the word of `_words` at `index`."""
    for key in ("command", "args"):
        value = c.spec.get(key)
        if isinstance(value, list):
            if index < len(value):
                return f"{jp.join(c.pointer, key)}/{index}"
            index -= len(value)
        elif isinstance(value, str):
            if index == 0:
                return jp.join(c.pointer, key)
            index -= 1
    raise IndexError(index)


def _server_mismatch(pod: Pod, c: Container) -> Violation | None:
    """A single-pod model server whose parallel sizes use fewer or more GPUs than it has."""
    factors = _PARALLEL.get(c.server or "")
    if not factors:
        return None
    flags, from_env = _GIVEN[c.server or ""]
    if not from_env:
        line = c.command
        for flag in flags:
            if flag in line:
                break
        else:
            return None  # no size given (`_option` finds a flag only where the line holds it)
    held = gpus(c.accelerators)
    if not held or pod.traits.member is not None:
        return None  # a group of pods (LeaderWorkerSet, Ray) splits a model over several
    given_flags = _options(c.server or "", tuple(_words(c)), c.command)
    product, first = 1, None
    for (_, names), option in zip(factors, given_flags, strict=True):
        given: tuple[int | str, str] | None = option or _env(c, names)
        if given is None:
            continue
        value = _count(given[1])
        if value is None:
            return None  # a variable or `auto`
        product *= value
        first = given[0] if first is None else first
    if first is None or product == held:
        return None
    return Violation(
        first if isinstance(first, str) else _pointer(c, first),
        f"{c.server} in container {c.name!r} splits the model over {product} GPU(s) "
        f"(tensor x pipeline x data parallel) but the container gets {held}, so "
        + (
            f"{held - product} of its GPUs sit idle"
            if product < held
            else "it cannot start all of its workers"
        )
        + f": make the parallel sizes multiply to {held}, or ask for {product} GPU(s)",
    )


RULE = rule(
    check,
    code="ML707",
    name="nproc-gpu-mismatch",
    severity=Severity.WARNING,
    summary="Processes or parallel sizes per pod differ from the GPUs the pod gets",
    purposes=ML_PURPOSES,
    fragments=True,
)
