"""
## What it does
Flags an MPIJob whose `slotsPerWorker` (1 when left out) differs from the number of GPUs each
worker pod requests. Workers whose accelerators are not whole GPUs (Neuron devices, which hold
several cores with one rank each; TPUs; time-sliced `nvidia.com/gpu.shared`) are left alone.
A TrainJob's `numProcPerNode`, which is the slot count under an MPI runtime, is judged by
ML707 nproc-gpu-mismatch.

## Why is this bad?
The MPI operator writes `slotsPerWorker` into the hostfile as each worker's slot count, and
`mpirun` starts that many processes per worker; training scripts give one GPU to each process.
With 8 GPUs per worker and the default of one slot, one process runs per worker and seven of
every eight GPUs stay idle for the whole run, while they are paid for. With more slots than
GPUs, processes share GPUs and run out of GPU memory or slow each other down.

## Example
```yaml
apiVersion: kubeflow.org/v2beta1
kind: MPIJob
spec:                      # no slotsPerWorker: 1 process per worker
  mpiReplicaSpecs:
    Worker:
      replicas: 2
      template:
        spec:
          containers:
            - resources:
                limits: {nvidia.com/gpu: 8}
```
Use instead:
```yaml
spec:
  slotsPerWorker: 8
```

## Fix safety
Unsafe: sets `slotsPerWorker` to the worker's GPU count, which changes the number of MPI
processes `mpirun` starts (and, in a launcher command that hard-codes `-np`, must be changed
there too).

## References
- [mpi-operator API: `slotsPerWorker` is the number of slots per worker in the hostfile, default 1](https://github.com/kubeflow/mpi-operator/blob/master/pkg/apis/kubeflow/v2beta1/types.go)
- [Kubeflow: MPI training, one slot per GPU](https://www.kubeflow.org/docs/components/trainer/legacy-v1/user-guides/mpi/)
- [Open MPI: hostfile slots are the number of processes to start on a host](https://docs.open-mpi.org/en/v5.0.x/launching-apps/scheduling.html)
"""

from collections.abc import Iterator
from typing import Any

from mllint.rules import patch
from mllint.rules.catalog.nproc_gpu_mismatch import gpus as gpus_of
from mllint.rules.model import Fix, Safety, Severity, Violation, rule
from mllint.rules.workload import Scope

WORKER = "/spec/mpiReplicaSpecs/Worker/"
SLOTS = "/spec/slotsPerWorker"


def check(scope: Scope, options: Any) -> Iterator[Violation]:
    spec = scope.obj.get("spec")
    if not isinstance(spec, dict):
        return
    for pod in scope.pods:
        if not pod.pointer.startswith(WORKER):
            continue
        main = list(pod.main_containers)
        counts = [gpus_of(c.accelerators) for c in main]
        if any(n is None for n in counts):
            continue  # Neuron, TPU or shared GPUs: one count does not say how many ranks
        gpus = sum(n or 0 for n in counts)
        device = pod.traits.device
        slots = spec.get("slotsPerWorker", 1)
        if gpus == 0 or not isinstance(slots, int) or slots == gpus:
            continue
        written = "slotsPerWorker" in spec
        yield Violation(
            SLOTS if written else "/spec",
            f"each worker requests {gpus} {device}s but slotsPerWorker is {slots}"
            f"{'' if written else ' (the default)'}, so mpirun starts {slots} process(es) per "
            f"worker{f' and {device}s sit idle' if slots < gpus else f' that share {device}s'}: "
            f"set slotsPerWorker: {gpus}",
            Fix.unsafe(patch.set_value(SLOTS, gpus)),
        )


RULE = rule(
    check,
    code="ML703",
    name="mpi-slots-gpu-mismatch",
    severity=Severity.WARNING,
    summary="MPIJob slotsPerWorker differs from the GPUs per worker",
    kinds={"MPIJob"},
    fix=Safety.UNSAFE,
)
