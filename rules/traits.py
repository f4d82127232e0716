"""What each pod of a workload is: its purpose (model server, batch run, other ML, not ML), the
accelerators it uses, the model server it runs and its place in a multi-pod workload.

`workload.py` locates pods and containers; this module says what they are, computed once per pod
(`Pod.traits`) and per container (`Container.accelerators`, `Container.server`). Rules ask these and
never re-derive them from kinds, images or resource names, so a new accelerator, a new model-server
image or a new serving kind is one edit here (or one `PodTemplate` field in `operators.py`) and
every rule, the webhook and the docs agree.

## Accelerators

`ACCELERATORS` lists the extended resources device plugins advertise for accelerators:

- NVIDIA `nvidia.com/gpu`, MIG slices `nvidia.com/mig-<profile>` and the time-sliced or MPS-shared
  `nvidia.com/gpu.shared` ([NVIDIA device plugin: shared access, MIG strategies](https://github.com/NVIDIA/k8s-device-plugin#shared-access-to-gpus));
- AMD `amd.com/gpu` ([ROCm k8s-device-plugin](https://github.com/ROCm/k8s-device-plugin));
- Intel `gpu.intel.com/i915`, `gpu.intel.com/xe` ([Intel GPU plugin](https://github.com/intel/intel-device-plugins-for-kubernetes/blob/main/cmd/gpu_plugin/README.md));
- Habana `habana.ai/gaudi` ([Intel Gaudi device plugin](https://docs.habana.ai/en/latest/Orchestration/Gaudi_Kubernetes/Device_Plugin_for_Kubernetes.html));
- AWS `aws.amazon.com/neuron`, `aws.amazon.com/neuroncore`, `aws.amazon.com/neurondevice`
  ([Neuron device plugin](https://awsdocs-neuron.readthedocs-hosted.com/en/latest/containers/kubernetes-getting-started.html));
- Google `google.com/tpu` ([GKE: deploy TPU workloads](https://cloud.google.com/kubernetes-engine/docs/how-to/tpus));
- any other vendor's `<domain>/gpu` (and its `.shared` form).

A pod also uses accelerators through Dynamic Resource Allocation: claims in the pod's
`spec.resourceClaims` that its containers name in `resources.claims`
([DRA](https://kubernetes.io/docs/concepts/scheduling-eviction/dynamic-resource-allocation/)).
A container asks for what its limits say, or its requests where it sets no limit (extended
resources are scheduled from limits, and a lone request must equal the limit).

## Purpose

In this order, the first that holds:

1. the kind decides (`PodTemplate.purpose`): the pods of a KServe InferenceService predictor,
   transformer or explainer, a ServingRuntime, a SeldonDeployment, an LLMInferenceService's
   model pods and a RayService are model servers; a RayCluster's pods and an
   LLMInferenceService's scheduler are ML; a RayJob's are a batch run;
2. a pod that runs to completion (a Job-like kind, a bare Pod with `restartPolicy` `Never` or
   `OnFailure`) is a batch run, unless it only runs helper images (below) and uses no
   accelerator;
3. a long-running pod is a model server when one of its main containers runs a known model
   server (`MODEL_SERVERS`: its image, or its command and arguments), or when it uses
   accelerators and a main container declares a port;
4. a long-running pod that uses accelerators is ML;
5. anything else is not ML: databases, queues, caches, web front ends, proxies, operators and
   controllers, test and helper pods.

Rules judge the purposes they name (`Rule.purposes`); a configuration's `scope: all` lets the
generic rules judge every workload (docs/configuration.md).

## Placeholders

`is_placeholder` recognizes values that are not a manifest yet: `${VAR}`, `$VAR`, `$(VAR)`,
`{{ ... }}`, `<image>`, and upper-case stand-ins (`IMG_PLACEHOLDER`, `REPLACE_ME`,
`YOUR_IMAGE`). Rules do not judge them as images, tags or claim names.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mllint.rules.model import Role
from mllint.rules.quantity import quantity

if TYPE_CHECKING:
    from mllint.rules.workload import Container, Pod


class Purpose(enum.StrEnum):
    """What a pod is for, which decides the rules that judge it."""

    MODEL_SERVER = "model-server"  # answers inference requests with a model it loads
    BATCH = "batch"  # runs to completion: training, fine-tuning, evaluation, batch inference
    ML = "ml"  # other ML pods: Ray cluster nodes, accelerator pods serving no port, routers
    NOT_ML = "not-ml"  # databases, queues, web front ends, operators, test and helper pods


ML_PURPOSES = frozenset({Purpose.MODEL_SERVER, Purpose.BATCH, Purpose.ML})
"""The purposes of ML workloads: what the ML rules judge by default."""


@dataclass(frozen=True, slots=True)
class Accelerator:
    """An accelerator resource a device plugin advertises; `name` ending in `*` is a prefix."""

    name: str
    device: str
    """What to call it in a message: `GPU`, `TPU`, `Gaudi`, `Neuron`."""

    def matches(self, resource: str) -> bool:
        if self.name.endswith("*"):
            return resource.startswith(self.name[:-1]) and len(resource) > len(self.name) - 1
        return resource == self.name


ACCELERATORS: tuple[Accelerator, ...] = (
    Accelerator("nvidia.com/gpu", "GPU"),
    Accelerator("nvidia.com/gpu.shared", "GPU"),
    Accelerator("nvidia.com/mig-*", "GPU"),
    Accelerator("amd.com/gpu", "GPU"),
    Accelerator("gpu.intel.com/i915", "GPU"),
    Accelerator("gpu.intel.com/xe", "GPU"),
    Accelerator("habana.ai/gaudi", "Gaudi"),
    Accelerator("aws.amazon.com/neuron", "Neuron"),
    Accelerator("aws.amazon.com/neuroncore", "Neuron"),
    Accelerator("aws.amazon.com/neurondevice", "Neuron"),
    Accelerator("google.com/tpu", "TPU"),
)


_VENDOR_GPU = re.compile(r"^[a-z0-9.-]+\.[a-z]+/gpu(?:\.shared)?$")
_OTHER_GPU = Accelerator("<domain>/gpu", "GPU")


def accelerator(resource: Any) -> Accelerator | None:
    """The registry entry of an accelerator resource name, None for anything else."""
    if not isinstance(resource, str):
        return None
    found = next((a for a in ACCELERATORS if a.matches(resource)), None)
    if found is None and _VENDOR_GPU.match(resource):
        return _OTHER_GPU
    return found


def is_accelerator(resource: Any) -> bool:
    return accelerator(resource) is not None


# The name part of a key that can only mean a GPU: `gpu`, `gpus`, `nvidia-gpu`, `nvidia_gpu`.
# Names that merely contain "gpu" (`gpumem`, `vgpu-number`, `gpu-mem`) belong to GPU-sharing
# device plugins and are real resources.
_GPU_WORD = re.compile(r"^(?:[a-z0-9]+[-_])?gpus?$")


def means_gpu(resource: str) -> bool:
    """Whether a resource key was written to ask for a GPU, valid name or not."""
    lowered = resource.lower()
    found = accelerator(lowered)
    if found is not None:
        return found.device == "GPU"
    return bool(_GPU_WORD.match(lowered.rpartition("/")[2]))


def gpu_name_for(resource: str) -> str | None:
    """The device-plugin resource name a misspelt GPU key most likely meant, None if unknown."""
    lowered = resource.lower()
    if is_accelerator(lowered):
        return lowered
    if "intel" in lowered:
        return None  # gpu.intel.com/i915 or gpu.intel.com/xe: the driver decides, not the key
    if "amd" in lowered:
        return "amd.com/gpu"
    return "nvidia.com/gpu"


def _section(spec: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    resources = spec.get("resources")
    value = resources.get(name) if isinstance(resources, dict) else None
    return value if isinstance(value, dict) else {}


def _count(amount: Any) -> int:
    """An accelerator amount as a whole count (accelerators are integers), read as the API
    reads a quantity (`rules.quantity`); 0 when unreadable, not positive, or a placeholder
    (`$GPU_PER_NODE`)."""
    value = quantity(amount)
    return int(value) if value is not None and value > 0 else 0


def accelerators_of(spec: Mapping[str, Any]) -> dict[str, int]:
    """Accelerators a container asks for, by resource name: its limits, or its requests where
    it sets no limit for that resource."""
    asked = {**_section(spec, "requests"), **_section(spec, "limits")}
    found: dict[str, int] = {}
    for resource, amount in asked.items():
        if is_accelerator(resource) and _count(amount) > 0:
            found[resource] = _count(amount)
    return found


def claims_of(spec: Mapping[str, Any]) -> tuple[str, ...]:
    """The names of the DRA claims a container uses (`resources.claims[].name`)."""
    resources = spec.get("resources")
    claims = resources.get("claims") if isinstance(resources, dict) else None
    if not isinstance(claims, list):
        return ()
    return tuple(str(c["name"]) for c in claims if isinstance(c, dict) and c.get("name"))


# Placeholders: shell and Make variables, Go and Jinja templates, angle-bracket stand-ins, and
# upper-case words that name what to put there.
_PLACEHOLDER = re.compile(
    r"\$\{[^}]*\}|\$\([^)]*\)|\$[A-Za-z_][A-Za-z0-9_]*|\{\{.*?\}\}|\{%.*?%\}|<[^<>]+>"
    r"|(?:^|[/:_.-])(?:[A-Z0-9]+_)*(?:PLACEHOLDER|REPLACE|REPLACE_ME|CHANGE_?ME|YOUR|TODO|TBD"
    r"|IMAGE|IMG|TAG|VERSION|REGISTRY|PROJECT_ID|PROJECT|REGION|ACCOUNT)(?:_[A-Z0-9]+)*"
    r"(?:$|[/:_.-])"
)


def is_placeholder(value: Any) -> bool:
    """Whether a string is (or contains) a placeholder rather than a value: `${VAR}`, `$VAR`,
    `$(VAR)`, `{{ .Values.x }}`, `<image>`, `IMG_PLACEHOLDER`, `REPLACE_ME`, `YOUR_PROJECT`."""
    return isinstance(value, str) and bool(_PLACEHOLDER.search(value))


@dataclass(frozen=True, slots=True)
class Server:
    """A model server, known by its image repository or its command line."""

    name: str
    image: re.Pattern[str]
    """Matches the image reference, lower-cased, without tag or digest."""
    command: re.Pattern[str] | None = None
    """Matches the container's command and arguments joined by spaces."""


def _server(name: str, image: str, command: str | None = None) -> Server:
    return Server(name, re.compile(image), re.compile(command) if command else None)


MODEL_SERVERS: tuple[Server, ...] = (
    _server("vLLM", r"vllm", r"\bvllm\s+serve\b|\bvllm\.entrypoints\b"),
    _server("SGLang", r"sglang", r"\bsglang\.launch_server\b|\bsglang\s+serve\b"),
    _server(
        "Text Generation Inference",
        r"text-generation-inference|(?:^|[/_-])tgi(?:$|[/_-])",
        r"\btext-generation-launcher\b",
    ),
    _server(
        "Text Embeddings Inference", r"text-embeddings-inference", r"\btext-embeddings-router\b"
    ),
    _server("Triton", r"tritonserver|triton-inference-server", r"\btritonserver\b"),
    _server("TensorRT-LLM", r"tensorrt-llm|tensorrt_llm|trtllm", r"\btrtllm-serve\b"),
    _server("TorchServe", r"torchserve", r"\btorchserve\b"),
    _server("MLServer", r"mlserver", r"\bmlserver\s+start\b"),
    _server(
        "TensorFlow Serving",
        r"tensorflow/serving|tf-serving|tensorflow-serving",
        r"\btensorflow_model_server\b",
    ),
    _server(
        "llama.cpp server",
        r"llama\.cpp|llama-cpp|llamacpp",
        r"\bllama-server\b|\bllama_cpp\.server\b",
    ),
    _server("Ollama", r"(?:^|/)ollama(?:$|/)", r"\bollama\s+serve\b"),
    _server("NVIDIA NIM", r"nvcr\.io/nim/"),
    _server("Ray Serve", r"(?!)", r"\bserve\s+(?:run|deploy|start)\b|\bray\.serve\b"),
    _server("OpenVINO Model Server", r"openvino/model_server|(?:^|/)ovms", r"\bovms\b"),
    _server("JetStream", r"jetstream|maxengine", r"\bjetstream\b|\bmaxengine_server\b"),
    _server("Saxml", r"sax-model-server|saxml"),
    _server("KServe model server", r"kserve/[a-z]+server|kfserving/[a-z]+server"),
    _server("Seldon model server", r"seldonio/[a-z0-9_-]*server"),
    _server("LoRAX", r"lorax"),
    _server("BentoML", r"(?!)", r"\bbentoml\s+serve\b"),
    _server("Xinference", r"xinference", r"\bxinference-local\b"),
    _server("LocalAI", r"localai"),
)

# Images of software that is not an ML workload: databases, queues, caches, proxies and web
# servers, and the shells and tools helper pods run.
_NOT_ML_IMAGES = re.compile(
    r"(?:^|/)(?:postgres(?:ql)?|mysql|mariadb|percona[a-z0-9_-]*|mongo(?:db)?|redis|valkey"
    r"|memcached|cassandra|elasticsearch|opensearch|etcd|zookeeper|kafka|rabbitmq|nats"
    r"|pulsar|redpanda|nginx(?:-slim)?|httpd|envoy|haproxy|traefik|caddy|busybox|alpine"
    r"|ubuntu|debian|centos|fedora|curl|curlimages|kubectl|pause|cloud-sdk|google-cloud-cli"
    r"|minio|vault|consul|grafana|prometheus|pushgateway|alertmanager|fluentd|fluent-bit"
    r"|kube-rbac-proxy|gb-frontend|gb-redis[a-z]*|hello-app|echo-basic|test-webserver)(?:$|[:@/])"
)


def _joined(value: Any) -> str:
    if isinstance(value, list):
        return " ".join(str(v) for v in value)
    return str(value) if isinstance(value, str | int | float) else ""


def _image_name(image: Any) -> str:
    """An image reference without tag or digest, lower-cased (`` when it is not a string)."""
    if not isinstance(image, str):
        return ""
    name = image.strip().partition("@")[0].lower()
    colon = name.rfind(":")
    return name[:colon] if colon > name.rfind("/") else name


def server_of(spec: Mapping[str, Any]) -> str | None:
    """The model server a container runs (its name in `MODEL_SERVERS`), None if none is known."""
    image = _image_name(spec.get("image"))
    command = f"{_joined(spec.get('command'))} {_joined(spec.get('args'))}"
    for s in MODEL_SERVERS:
        if (image and s.image.search(image)) or (s.command and s.command.search(command)):
            return s.name
    return None


def is_helper_image(image: Any) -> bool:
    """Whether an image is software that is not ML (a database, a proxy, a shell)."""
    name = _image_name(image)
    return bool(name) and bool(_NOT_ML_IMAGES.search(name + ":"))


# Words in an image repository's name that say it is ML software (`ghcr.io/acme/bert-server`),
# and those that say it answers requests. Matched against whole words of the name.
_ML_WORDS = frozenset(
    {
        "bert", "clip", "cuda", "diffusion", "diffusers", "embedding", "embeddings", "gpt",
        "gpt2", "huggingface", "inference", "jax", "jupyter", "kserve", "lightgbm", "llama",
        "llm", "mlflow", "notebook", "onnx", "predictor", "pytorch", "rerank", "reranker",
        "sdxl", "seldon", "sklearn", "tensorflow", "tensorrt", "torch", "trainer", "training",
        "transformers", "whisper", "xgboost",
    }
)  # fmt: skip
_SERVING_WORDS = frozenset({"inference", "predictor", "serve", "server", "serving"})
_WORD = re.compile(r"[a-z0-9]+")


def _words(image: Any) -> set[str]:
    return set(_WORD.findall(_image_name(image).rpartition("/")[2]))


def ml_image(image: Any) -> bool:
    """Whether an image's name says it is ML software (`bert-server`, `pytorch`)."""
    return not _words(image).isdisjoint(_ML_WORDS)


def serving_image(image: Any) -> bool:
    """Whether an image's name says it serves a model (`bert-server`, `clip-inference`)."""
    words = _words(image)
    return not words.isdisjoint(_ML_WORDS) and not words.isdisjoint(_SERVING_WORDS)


_PROBES = ("livenessProbe", "readinessProbe", "startupProbe")


def declares_port(spec: Mapping[str, Any]) -> bool:
    """Whether a container serves a port: it declares one, or a probe of it calls one."""
    ports = spec.get("ports")
    if isinstance(ports, list) and any(isinstance(p, dict) for p in ports):
        return True
    for probe in _PROBES:
        handler = spec.get(probe)
        if isinstance(handler, dict) and any(
            isinstance(handler.get(h), dict) for h in ("httpGet", "tcpSocket", "grpc")
        ):
            return True
    return False


class Member(enum.StrEnum):
    """A pod's place in a multi-pod workload."""

    LAUNCHER = "launcher"  # starts the run on the others (MPI launcher)
    LEADER = "leader"  # a group's first pod (LeaderWorkerSet leader, Kubeflow Master or Chief)
    WORKER = "worker"
    HEAD = "head"  # a Ray cluster's head
    SUBMITTER = "submitter"  # a RayJob's submitter
    OTHER = "other"  # any other replica type (TensorFlow PS, Evaluator)


_REPLICA_MEMBERS = {
    "launcher": Member.LAUNCHER,
    "master": Member.LEADER,
    "chief": Member.LEADER,
    "worker": Member.WORKER,
}


@dataclass(frozen=True)
class Traits:
    """What one pod is; see the module docstring for how each is decided."""

    purpose: Purpose
    reason: str
    """Why it has that purpose, in words fit for a message (`it runs vLLM`)."""
    accelerators: Mapping[str, int] = field(default_factory=dict)
    """Accelerators the pod's main containers ask for, by resource name (summed)."""
    claims: tuple[str, ...] = ()
    """DRA claims the pod declares (`spec.resourceClaims[].name`) or its containers use."""
    server: str | None = None
    """The model server a main container runs, when one is known (`vLLM`)."""
    member: Member | None = None
    """Its place in a multi-pod workload; None for a workload of one kind of pod."""
    replica: str | None = None
    """The replica type or group it belongs to as written (`Launcher`, `worker-group-1`)."""
    long_running: bool = False
    """Restarted when it exits (a Deployment's pods, a Ray cluster's), rather than run once."""
    serving: tuple[str, ...] = ()
    """Pointers of the main containers that serve the model, in a model server: those running
    a known server, using accelerators or serving a port, or the only main container; not
    sidecars such as proxies and exporters."""

    @property
    def uses_accelerators(self) -> bool:
        return bool(self.accelerators) or bool(self.claims)

    @property
    def accelerator_count(self) -> int:
        """Accelerators counted from resources (DRA claims have no count here)."""
        return sum(self.accelerators.values())

    @property
    def device(self) -> str:
        """What to call its accelerators in a message: `GPU`, `TPU`, ..., or `accelerator`
        when they are of several kinds or come from DRA claims."""
        devices = {d.device for r in self.accelerators if (d := accelerator(r)) is not None}
        return devices.pop() if len(devices) == 1 and not self.claims else "accelerator"

    @property
    def ml(self) -> bool:
        return self.purpose is not Purpose.NOT_ML

    @property
    def model_server(self) -> bool:
        return self.purpose is Purpose.MODEL_SERVER


def _pod_claims(pod: Pod) -> tuple[str, ...]:
    declared = pod.spec.get("resourceClaims")
    names = [
        str(c["name"])
        for c in (declared if isinstance(declared, list) else ())
        if isinstance(c, dict) and c.get("name")
    ]
    for c in pod.containers:
        names += [n for n in claims_of(c.spec) if n not in names]
    return tuple(names)


def _member(pod: Pod) -> tuple[Member | None, str | None]:
    if pod.template.member is not None:
        return pod.template.member, pod.template.member.value
    tokens = pod.pointer.split("/")
    for index, token in enumerate(tokens[:-1]):
        if token.endswith("ReplicaSpecs") or token in ("replicatedJobs", "tasks"):
            replica = tokens[index + 1]
            if token in {"replicatedJobs", "tasks"}:
                return None, replica
            return _REPLICA_MEMBERS.get(replica.lower(), Member.OTHER), replica
    return None, None


def derive(pod: Pod) -> Traits:
    """The traits of one pod (`Pod.traits` caches them)."""
    main = list(pod.main_containers)
    accelerators: dict[str, int] = {}
    for c in main:
        for resource, count in c.accelerators.items():
            accelerators[resource] = accelerators.get(resource, 0) + count
    claims = _pod_claims(pod)
    server = next((s for c in main if (s := c.server) is not None), None)
    member, replica = _member(pod)
    long_running = pod.role is not Role.BATCH
    uses = bool(accelerators) or bool(claims)
    purpose, reason = _purpose(pod, main, uses, server, long_running)
    serving: tuple[str, ...] = ()
    if purpose is Purpose.MODEL_SERVER:
        serving = tuple(
            c.pointer
            for c in main
            if len(main) == 1
            or c.server is not None
            or c.accelerators
            or c.claims
            or declares_port(c.spec)
        )
    return Traits(
        purpose,
        reason,
        accelerators=accelerators,
        claims=claims,
        server=server,
        member=member,
        replica=replica,
        long_running=long_running,
        serving=serving,
    )


def _purpose(
    pod: Pod, main: list[Container], uses: bool, server: str | None, long_running: bool
) -> tuple[Purpose, str]:
    decided = pod.template.purpose
    if decided is not None:
        return decided, f"it is a {pod.subject.kind} {_what(decided)}"
    images = [c.spec.get("image") for c in main]
    if not long_running:
        if images and all(is_helper_image(i) for i in images) and not uses:
            return Purpose.NOT_ML, "it only runs helper images"
        return Purpose.BATCH, "it runs to completion"
    if server is not None:
        return Purpose.MODEL_SERVER, f"it runs {server}"
    ported = any(declares_port(c.spec) for c in main)
    if uses and ported:
        return Purpose.MODEL_SERVER, "it uses accelerators and serves a port"
    if any(serving_image(i) for i in images):
        return Purpose.MODEL_SERVER, "its image is named for serving a model"
    if uses:
        return Purpose.ML, "it uses accelerators"
    if any(ml_image(i) for i in images):
        return Purpose.ML, "its image is named for ML software"
    return Purpose.NOT_ML, "no model server, accelerator, ML image or ML kind"


def _what(purpose: Purpose) -> str:
    return {
        Purpose.MODEL_SERVER: "model server",
        Purpose.BATCH: "batch run",
        Purpose.ML: "component",
        Purpose.NOT_ML: "helper",
    }[purpose]


def accelerator_words(containers: Iterable[Container]) -> str:
    """`GPU`, `TPU`, ... when the containers ask for one kind of accelerator, else
    `accelerator`: what a message calls them."""
    devices = {
        d.device for c in containers for r in c.accelerators if (d := accelerator(r)) is not None
    }
    return devices.pop() if len(devices) == 1 else "accelerator"
