"""
## What it does
Flags a container that passes data through shared memory, in a pod with no memory-backed
`emptyDir` mounted at `/dev/shm`:

- a PyTorch training container (in a PyTorchJob, started with `torchrun` or
  `torch.distributed`, or running a PyTorch image);
- a DeepSpeed training container (started by the `deepspeed` launcher or running a DeepSpeed
  image);
- an MPI worker with more than one accelerator, so more than one rank (an MPIJob's workers,
  or a container started by `mpirun` or `horovodrun`);
- a vLLM or SGLang server given more than one GPU (its tensor-parallel workers exchange
  activations through NCCL, which uses `/dev/shm` within a node).

KubeRay mounts a memory-backed `/dev/shm` in the Ray container (the first) of every pod it
creates when none is mounted, so that container is not flagged either. Pods that share the
node's IPC namespace (`hostIPC: true`) are not flagged, nor are an MPI
launcher and an MPI worker, vLLM or SGLang server with a single accelerator: one process has no
peer in its pod to pass data to through shared memory.

## What it judges and leaves alone
It judges pods that use accelerators and whose processes share memory: several accelerators in
the pod (NCCL between its processes), a launcher starting several processes
(`--nproc-per-node` above 1), or DataLoader workers (`--workers N`, `num_workers=N` above 0).
A CPU pod, or one process on one accelerator with no stated workers (a smoke test, MNIST), is
left alone, as are runs started with `--workers=0`.

## Why is this bad?
A container's `/dev/shm` is 64 MiB unless something larger is mounted there. PyTorch's
`DataLoader` workers pass every batch to the training process through shared memory, and
NCCL uses it between the processes of one node; a real batch of images or token tensors
overflows 64 MiB, and training dies with `DataLoader worker ... is killed by signal: Bus error`
or hangs in its first collective: after the pods were scheduled on GPUs, often after the first
epoch. Kubernetes has no `--shm-size`: the fix is an `emptyDir` with `medium: Memory` mounted
at `/dev/shm`.

## Example
```yaml
spec:
  containers:
    - name: trainer
      image: pytorch/pytorch:2.4.1-cuda12.4-cudnn9-runtime
      command: [torchrun, --nproc-per-node=8, train.py]
```
Use instead:
```yaml
spec:
  containers:
    - name: trainer
      image: pytorch/pytorch:2.4.1-cuda12.4-cudnn9-runtime
      command: [torchrun, --nproc-per-node=8, train.py]
      volumeMounts:
        - {name: dshm, mountPath: /dev/shm}
  volumes:
    - name: dshm
      emptyDir: {medium: Memory, sizeLimit: 8Gi}
```

## Fix safety
Unsafe: adds a `dshm` volume (`medium: Memory`, `sizeLimit` from the `size` option, 8Gi)
mounted at `/dev/shm`. A memory-backed `emptyDir` counts against the container's memory
limit, so a pod close to its limit can be OOM-killed sooner; size it and the limit together.

## References
- [PyTorch README: the shared memory segment of containers is too small](https://github.com/pytorch/pytorch#using-pre-built-images)
- [pytorch/pytorch#16979: DataLoader shm error on Kubernetes](https://github.com/pytorch/pytorch/issues/16979)
- [pytorch/pytorch#108861: Bus error in a PyTorchJob run by torchrun](https://github.com/pytorch/pytorch/issues/108861)
- [Kubernetes: a `medium: Memory` emptyDir is a tmpfs](https://kubernetes.io/docs/concepts/storage/volumes/#emptydir)
- [DeepSpeed: NCCL needs a larger /dev/shm in containers](https://www.deepspeed.ai/getting-started/)
- [vLLM: tensor-parallel inference needs `--ipc=host` or a larger `--shm-size`](https://docs.vllm.ai/en/latest/deployment/docker.html)
- [SGLang: run with `--shm-size 32g`](https://docs.sglang.ai/get_started/install.html)
- [KubeRay: the Ray container gets a memory-backed /dev/shm (`addEmptyDir` in pod.go)](https://github.com/ray-project/kuberay/blob/master/ray-operator/controllers/ray/common/pod.go)
- [NCCL: the shared memory transport and `/dev/shm` in containers](https://docs.nvidia.com/deeplearning/nccl/user-guide/docs/troubleshooting.html#sharing-data)
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from mllint.rules import patch
from mllint.rules import pointer as jp
from mllint.rules.model import (
    Fix,
    Regex,
    Role,
    RuleOptions,
    Safety,
    Severity,
    Violation,
    option,
    rule,
)
from mllint.rules.quantity import quantity
from mllint.rules.resources import parse_image
from mllint.rules.traits import ML_PURPOSES, Member
from mllint.rules.workload import Container, Pod, Scope

SHM = "/dev/shm"
VOLUME = "dshm"
_LAUNCHERS = Regex(r"\btorchrun\b|\btorch\.distributed\b|\btorchx\b")
_IMAGE = Regex(r"(?:^|[/_-])(?:py)?torch(?:$|[/_-])")
_DEEPSPEED = Regex(r"(?:^|[\s/])deepspeed(?:\s|$)|\bdeepspeed\.launcher\b")
_DEEPSPEED_IMAGE = Regex(r"(?:^|[/_-])deepspeed(?:$|[/_-])")
_MPI = Regex(r"\bmpirun\b|\bmpiexec\b|\bhorovodrun\b")
_SHM_SERVERS = frozenset({"vLLM", "SGLang"})


class Options(RuleOptions):
    """The rule's options (its table under `rules` in the configuration)."""

    size: str = option("8Gi", "The sizeLimit of the /dev/shm volume the fix adds.")

    def __post_init__(self) -> None:
        super().__post_init__()
        if quantity(self.size) is None:
            raise ValueError(f"size must be a Kubernetes quantity such as 8Gi, got {self.size!r}")


def _text(value: Any) -> str:
    if isinstance(value, list):
        return " ".join(str(v) for v in value)
    return str(value) if value is not None else ""


def _command(c: Container) -> str:
    """Its command and arguments as one line (built only when a rule reads it)."""
    return _text(c.spec.get("command")) + " " + _text(c.spec.get("args"))


def runs_pytorch(scope: Scope, c: Container) -> bool:
    """A PyTorch training container: in a PyTorchJob, started by a PyTorch launcher, or
    running an image whose repository is named for PyTorch."""
    if scope.subject.kind == "PyTorchJob":
        return True
    if _LAUNCHERS.search(_command(c)):
        return True
    image = c.spec.get("image")
    return isinstance(image, str) and bool(_IMAGE.search(parse_image(image).name.lower()))


def _memory_backed(volume: Mapping[str, Any]) -> bool:
    empty = volume.get("emptyDir")
    return isinstance(empty, dict) and empty.get("medium") == "Memory"


def _mounts_shm(c: Container) -> bool:
    mounts = c.spec.get("volumeMounts")
    return isinstance(mounts, list) and any(
        isinstance(m, dict) and str(m.get("mountPath", "")).rstrip("/") == SHM for m in mounts
    )


def _fix(pod: Pod, c: Container, size: str) -> Fix:
    """Mount the pod's memory-backed emptyDir at /dev/shm, adding one when it has none."""
    names = [str(v.get("name")) for _, v in pod.volumes]
    memory = [str(v.get("name")) for _, v in pod.volumes if _memory_backed(v)]
    ops = []
    if memory:
        name = memory[0]
    else:
        name = next(n for n in (VOLUME, *(f"{VOLUME}-{i}" for i in range(2, 99))) if n not in names)
        volume = {"name": name, "emptyDir": {"medium": "Memory", "sizeLimit": size}}
        ops.append(patch.append(jp.join(pod.pointer, "volumes"), volume))
    ops.append(patch.append(jp.join(c.pointer, "volumeMounts"), {"name": name, "mountPath": SHM}))
    return Fix.unsafe(*ops)


_WORKERS = Regex(r"(?:--workers|--num[-_]workers|num_workers)[= ]+(\d+)")
_NPROC = Regex(r"--nproc[-_]per[-_]node[= ]+(\d+)")


def _shares_memory(pod: Pod, c: Container) -> bool:
    """Whether processes of the pod pass data through /dev/shm: NCCL between the processes of
    several accelerators, a launcher starting several processes, or DataLoader workers. One
    process on one accelerator with no stated workers (a smoke test, MNIST) is left alone."""
    command = _command(c)
    workers = _WORKERS.search(command)
    if workers is not None:
        return int(workers.group(1)) > 0
    nproc = _NPROC.search(command)
    if nproc is not None and int(nproc.group(1)) > 1:
        return True
    return pod.traits.accelerator_count >= 2


def _image_name(c: Container) -> str:
    image = c.spec.get("image")
    return parse_image(image).name.lower() if isinstance(image, str) else ""


def shm_user(scope: Scope, pod: Pod, c: Container) -> str | None:
    """What makes the container pass data through /dev/shm, in words for a message; None when
    nothing known does."""
    if pod.role is Role.BATCH and _shares_memory(pod, c):
        if _DEEPSPEED.search(_command(c)) or _DEEPSPEED_IMAGE.search(_image_name(c)):
            return "DeepSpeed"
        if runs_pytorch(scope, c):
            return "PyTorch"
    if pod.traits.member is Member.LAUNCHER or c.accelerator_count < 2:
        return None  # one accelerator: one rank, with no peer in the pod to share memory with
    if c.server in _SHM_SERVERS:
        return c.server
    mpi_worker = scope.subject.kind == "MPIJob" and pod.traits.member is Member.WORKER
    if pod.role is Role.BATCH and (mpi_worker or _MPI.search(_command(c))):
        return "MPI"
    return None


_OVERFLOW = {
    "PyTorch": "DataLoader workers and NCCL overflow (Bus error)",
    "DeepSpeed": "NCCL and DataLoader workers overflow (Bus error)",
    "MPI": "NCCL and MPI's shared-memory transport between ranks overflow",
}


def check(scope: Scope, options: Options) -> Iterator[Violation]:
    for pod in scope.pods:
        if pod.spec.get("hostIPC") is True or not pod.traits.uses_accelerators:
            continue  # on CPU, few batches and no NCCL peers: 64 MiB is seldom the limit
        main = list(pod.main_containers)
        for c in main:
            if pod.template.mounts_shm and c is main[0]:
                continue  # the operator mounts /dev/shm there (KubeRay's Ray container)
            user = shm_user(scope, pod, c)
            if user is None or _mounts_shm(c):
                continue
            overflow = _OVERFLOW.get(user, "its tensor-parallel workers' NCCL traffic overflows")
            yield Violation(
                c.pointer,
                f"{user} container {c.name!r} has the default 64 MiB /dev/shm, which {overflow}: "
                "mount an emptyDir with medium: Memory at /dev/shm",
                _fix(pod, c, options.size),
            )


RULE = rule(
    check,
    code="ML701",
    name="shm-size-missing",
    severity=Severity.WARNING,
    summary="PyTorch, DeepSpeed, MPI, vLLM or SGLang pod without a memory-backed /dev/shm",
    roles={Role.BATCH, Role.SERVING},
    purposes=ML_PURPOSES,
    options=Options,
    fix=Safety.UNSAFE,
)
