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
   LLMInferenceService's scheduler are ML; a RayJob's and a training operator's are a batch
   run, unless they only run helpers and smoke tests, or an MPI job's launcher starts no ML
   (`mpi_purpose`): commands are read through launchers (`mpirun`, `ssh`, `torchrun`) at the
   program they start;
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
import functools
import re
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from mllint.rules.model import Frozen, Regex, Role, set_field
from mllint.rules.quantity import quantity

if TYPE_CHECKING:
    from mllint.rules.workload import Container, Pod


class Pattern:
    """A regular expression compiled on its first use. Most runs need few of the patterns here,
    and compiling all of them took several milliseconds of every start. `pattern` is the
    source, as `re.Pattern.pattern` is (rules/cel.py translates some of them).

    Before it is compiled or searched, a string must contain one of the plain words each
    alternative of the pattern requires (`needed`): most strings hold none of a model server's
    names, so most of the patterns are never compiled, and a substring test is cheaper than a
    search."""

    __slots__ = ("_compiled", "_needs", "flags", "pattern")

    def __init__(self, pattern: str, flags: int = 0) -> None:
        self.pattern = pattern
        self.flags = flags
        self._compiled: re.Pattern[str] | None = None
        self._needs: tuple[str, ...] | None = None

    @property
    def compiled(self) -> re.Pattern[str]:
        return self._compiled or self._compile()

    def _compile(self) -> re.Pattern[str]:
        self._compiled = re.compile(self.pattern, self.flags)
        return self._compiled

    @property
    def needs(self) -> tuple[str, ...]:
        """The plain words (`needed`) of which a string holds one whenever the pattern is found
        in it; `("",)` when no such words are known."""
        needs = self._needs
        if needs is None:
            needs = self._needs = needed(self.pattern) if not self.flags else ("",)
        return needs

    def _possible(self, string: str) -> bool:
        for word in self._needs or self.needs:  # noqa: SIM110  # no generator made per call
            if word in string:
                return True
        return False

    def search(self, string: str) -> re.Match[str] | None:
        if not self._possible(string):
            return None
        return (self._compiled or self._compile()).search(string)

    def match(self, string: str) -> re.Match[str] | None:
        if not self._possible(string):
            return None
        return (self._compiled or self._compile()).match(string)

    def findall(self, string: str) -> list[Any]:
        if not self._possible(string):
            return []
        return (self._compiled or self._compile()).findall(string)


_GROUPS = (":", "=", "!", "<", "P")
"""What follows `(?` in a group that sets no flags: non-capturing, look-around, named."""
_CODES = frozenset("xuUN0123456789")
"""What follows a backslash that names a character by its code, or a group by its number."""


def needed(pattern: str) -> tuple[str, ...]:
    """For each alternative at the top of `pattern`, the longest run of plain characters outside
    any group, which every match of that alternative contains. `("",)` (found in any string)
    when some alternative has none, or when the pattern sets flags inline."""
    words: list[str] = []
    best = run = ""
    depth = i = 0
    while i < len(pattern):
        char = pattern[i]
        plain = ""
        if char == "\\":
            escaped = pattern[i + 1 : i + 2]
            if escaped in _CODES:
                return ("",)  # a character by its code (\x41, \N{...}) or a group's number
            plain = escaped if depth == 0 and not escaped.isalnum() else ""
            i += 2
        elif char == "[":
            i = _class_end(pattern, i)
        elif char == "{":
            end = pattern.find("}", i)  # a repeat count
            i = len(pattern) if end < 0 else end + 1
        elif char == "(":
            if pattern[i + 1 : i + 2] == "?" and pattern[i + 2 : i + 3] not in _GROUPS:
                return ("",)  # flags set inline, such as (?i)
            depth += 1
            i += 1
        elif char == ")":
            depth -= 1
            i += 1
        elif char == "|" and depth == 0:
            words.append(max(best, run, key=len))
            best = run = ""
            i += 1
        else:
            plain = char if depth == 0 and char not in ".^$*+?}|" else ""
            i += 1
        follows = pattern[i : i + 1]
        if plain and follows not in ("?", "*", "{"):
            run += plain  # kept: it is there at least once
        if not plain or follows in ("?", "*", "{", "+"):
            best = max(best, run, key=len)
            run = ""
    words.append(max(best, run, key=len))
    return ("",) if "" in words else tuple(words)


def _class_end(pattern: str, start: int) -> int:
    """The index just past the character class that opens at `start`."""
    i = start + 1
    if pattern[i : i + 1] == "^":
        i += 1
    if pattern[i : i + 1] == "]":
        i += 1
    while i < len(pattern) and pattern[i] != "]":
        i += 2 if pattern[i] == "\\" else 1
    return i + 1


class Purpose(enum.StrEnum):
    """What a pod is for, which decides the rules that judge it."""

    MODEL_SERVER = "model-server"  # answers inference requests with a model it loads
    BATCH = "batch"  # runs to completion: training, fine-tuning, evaluation, batch inference
    ML = "ml"  # other ML pods: Ray cluster nodes, accelerator pods serving no port, routers
    NOT_ML = "not-ml"  # databases, queues, web front ends, operators, test and helper pods


ML_PURPOSES = frozenset({Purpose.MODEL_SERVER, Purpose.BATCH, Purpose.ML})
"""The purposes of ML workloads: what the ML rules judge by default."""


class Accelerator(Frozen):
    """An accelerator resource a device plugin advertises; `name` ending in `*` is a prefix."""

    __slots__ = _fields = ("name", "device")

    name: str
    device: str
    """What to call it in a message: `GPU`, `TPU`, `Gaudi`, `Neuron`."""

    def __init__(self, name: str, device: str) -> None:
        set_field(self, "name", name)
        set_field(self, "device", device)

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


_VENDOR_GPU = Pattern(r"^[a-z0-9.-]+\.[a-z]+/gpu(?:\.shared)?$")
_OTHER_GPU = Accelerator("<domain>/gpu", "GPU")


def accelerator(resource: Any) -> Accelerator | None:
    """The registry entry of an accelerator resource name, None for anything else."""
    if not isinstance(resource, str):
        return None
    return _accelerator(resource)


@functools.lru_cache(maxsize=1024)
def _accelerator(resource: str) -> Accelerator | None:
    # Every resource name of every container is looked up on every admission; there are few
    # distinct names (cpu, memory, nvidia.com/gpu...), so each is matched once.
    found = next((a for a in ACCELERATORS if a.matches(resource)), None)
    if found is None and _VENDOR_GPU.match(resource):
        return _OTHER_GPU
    return found


def is_accelerator(resource: Any) -> bool:
    return isinstance(resource, str) and _accelerator(resource) is not None


# The name part of a key that can only mean a GPU: `gpu`, `gpus`, `nvidia-gpu`, `nvidia_gpu`.
# Names that merely contain "gpu" (`gpumem`, `vgpu-number`, `gpu-mem`) belong to GPU-sharing
# device plugins and are real resources.
_GPU_WORD = Pattern(r"^(?:[a-z0-9]+[-_])?gpus?$")


@functools.lru_cache(maxsize=4096)
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
    resources = spec.get("resources")
    if not isinstance(resources, dict):
        return {}
    requests, limits = resources.get("requests"), resources.get("limits")
    asked = {
        **(requests if isinstance(requests, dict) else {}),
        **(limits if isinstance(limits, dict) else {}),
    }
    found: dict[str, int] = {}
    for resource, amount in asked.items():
        if not isinstance(resource, str) or _accelerator(resource) is None:
            continue
        # A placeholder amount still asks for the accelerator; its count is unknown (0).
        count = _count(amount)
        if count > 0 or is_placeholder(amount):
            found[resource] = count
    return found


def accelerators_in(node: Any) -> dict[str, int]:
    """Accelerators asked for anywhere in a value: every `limits` or `requests` mapping in it
    (for objects that give resources outside pod specs, such as a TrainJob's trainer)."""
    found: dict[str, int] = {}
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("limits", "requests") and isinstance(value, dict):
                for resource, amount in value.items():
                    if is_accelerator(resource) and (_count(amount) or is_placeholder(amount)):
                        found[resource] = max(found.get(resource, 0), _count(amount))
            else:
                for resource, count in accelerators_in(value).items():
                    found[resource] = max(found.get(resource, 0), count)
    elif isinstance(node, list):
        for value in node:
            for resource, count in accelerators_in(value).items():
                found[resource] = max(found.get(resource, 0), count)
    return found


def device_of(accelerators: Mapping[str, int], claims: bool = False) -> str:
    """What to call accelerators in a message: `GPU`, `TPU`, `Gaudi`, `Neuron`, or
    `accelerator` when they are of several kinds or come from DRA claims."""
    devices = {d.device for r in accelerators if (d := accelerator(r)) is not None}
    return devices.pop() if len(devices) == 1 and not claims else "accelerator"


def claims_of(spec: Mapping[str, Any]) -> tuple[str, ...]:
    """The names of the DRA claims a container uses (`resources.claims[].name`)."""
    resources = spec.get("resources")
    claims = resources.get("claims") if isinstance(resources, dict) else None
    if not isinstance(claims, list):
        return ()
    return tuple(str(c["name"]) for c in claims if isinstance(c, dict) and c.get("name"))


# Placeholders: shell and Make variables, Go and Jinja templates, angle-bracket stand-ins, and
# upper-case words that name what to put there.
_PLACEHOLDER = Pattern(
    r"\$\{[^}]*\}|\$\([^)]*\)|\$[A-Za-z_][A-Za-z0-9_]*|\{\{.*?\}\}|\{%.*?%\}|<[^<>]+>"
    r"|(?:^|[/:_.-])(?:[A-Z0-9]+_)*(?:PLACEHOLDER|REPLACE|REPLACE_ME|CHANGE_?ME|YOUR|TODO|TBD"
    r"|IMAGE|IMG|TAG|VERSION|REGISTRY|PROJECT_ID|PROJECT|REGION|ACCOUNT)(?:_[A-Z0-9]+)*"
    r"(?:$|[/:_.-])"
    # An upper-case name with underscores where Kubernetes takes lower-case DNS names and image
    # repositories: `PSTORE_PVC_NAME`, `gcr.io/MY_PROJECT/app`.
    r"|(?:^|[/@])[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+(?:$|[/:@])"
)


FLOATING_TAGS = frozenset(
    {
        "latest", "main", "master", "trunk", "head", "nightly", "stable", "dev", "devel",
        "develop", "development", "edge", "canary", "rolling", "current", "unstable", "beta",
        "alpha", "snapshot",
    }
)  # fmt: skip
"""Tags that name whatever was pushed last under that name, rather than a version."""


def floating_tag(tag: str | None) -> bool:
    """Whether an image tag floats: none (which means `latest`), one of `FLOATING_TAGS`, or
    one of them with a variant suffix (`latest-gpu`, `nightly-cuda12`)."""
    if tag is None:
        return True
    lowered = tag.lower()
    return lowered in FLOATING_TAGS or lowered.split("-", 1)[0] in FLOATING_TAGS


def is_placeholder(value: Any) -> bool:
    """Whether a string is (or contains) a placeholder rather than a value: `${VAR}`, `$VAR`,
    `$(VAR)`, `{{ .Values.x }}`, `<image>`, `IMG_PLACEHOLDER`, `REPLACE_ME`, `YOUR_PROJECT`,
    `PSTORE_PVC_NAME`."""
    return isinstance(value, str) and _placeholder(value)


@functools.lru_cache(maxsize=4096)
def _placeholder(text: str) -> bool:
    # Images, names and amounts repeat from object to object; the pattern is long. Each of its
    # alternatives needs a `$`, `{` or `<`, or an upper-case letter, which most values lack.
    if "$" not in text and "{" not in text and "<" not in text and text == text.lower():
        return False
    return bool(_PLACEHOLDER.search(text))


class Server(Frozen):
    """A model server, known by its image repository or its command line."""

    __slots__ = _fields = ("name", "image", "command")

    name: str
    image: Pattern
    """Matches the image reference, lower-cased, without tag or digest."""
    command: Pattern | None
    """Matches the container's command and arguments joined by spaces."""

    def __init__(self, name: str, image: Pattern, command: Pattern | None = None) -> None:
        set_field(self, "name", name)
        set_field(self, "image", image)
        set_field(self, "command", command)


_NOTHING = "(?!)"
"""The image pattern of a server known by its command only: it matches no image."""


def _server(name: str, image: str, command: str | None = None) -> Server:
    return Server(name, Pattern(image), Pattern(command) if command else None)


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
    _server("Ray Serve", _NOTHING, r"\bserve\s+(?:run|deploy|start)\b|\bray\.serve\b"),
    _server("OpenVINO Model Server", r"openvino/model_server|(?:^|/)ovms", r"\bovms\b"),
    # jetstream-http is JetStream's HTTP front end: a proxy that loads no model.
    _server("JetStream", r"jetstream(?!-http)|maxengine", r"\bmaxengine_server\b"),
    _server("Saxml", r"sax-model-server"),
    _server("KServe model server", r"kserve/[a-z]+server|kfserving/[a-z]+server"),
    _server("Seldon model server", r"seldonio/[a-z0-9_-]*server"),
    _server("LoRAX", r"lorax"),
    _server("BentoML", _NOTHING, r"\bbentoml\s+serve\b"),
    _server("Xinference", r"xinference", r"\bxinference-local\b"),
    _server("LocalAI", r"localai"),
)

# A container that only joins a Ray cluster (`ray start ... --block`, an LWS worker of a
# multi-node vLLM) serves nothing itself, whatever its image.
_RAY_MEMBER = Pattern(r"\bray\s+start\b(?!.*--head)|multi-node-serving\.sh\s+worker\b")

# Images of software that is not an ML workload whatever it is told to do: databases, queues,
# caches, proxies and web servers, routers, controllers and operators, test and demo images.
_SERVICE_IMAGES = Pattern(
    r"(?:^|/)(?:postgres(?:ql)?|mysql|mariadb|percona[a-z0-9_-]*|mongo(?:db)?|redis|valkey"
    r"|memcached|cassandra|elasticsearch|opensearch|kibana|etcd[a-z0-9_-]*|zookeeper|kafka"
    r"|rabbitmq|nats|pulsar|redpanda|nginx(?:-slim)?|httpd|php-apache|hpa-example|tomcat"
    r"|wildfly|wordpress|phabricator|jenkins|envoy|haproxy|traefik|caddy|pause|agnhost|sleep"
    r"|whalesay|argosay|argoexec|imagemagick|jq|vegeta|cuda-sample|minio|vault|consul|grafana"
    r"|prometheus|pushgateway|alertmanager|fluentd|fluent-bit|origin|zeppelin|kube-rbac-proxy"
    r"|gb-frontend|gb-redis[a-z]*|hello-app|echo-basic|test-webserver|prometheus-dummy-exporter"
    r"|custom-metrics-stackdriver-adapter|epp|lwepp|llm-d-inference-scheduler"
    r"|llm-d-routing-sidecar"
    r"|[a-z0-9_-]*-(?:controller|operator|webhook|manager|migration|exporter))"
    r"(?:$|[:@/])"
)
# Shells and tools: a helper unless its command speaks of models, datasets or training (a
# `google/cloud-sdk` container that copies a model is data preparation).
_TOOL_IMAGES = Pattern(
    r"(?:^|/)(?:busybox|alpine|ubuntu|debian|centos|fedora|bash|golang|curl|curlimages"
    r"|kubectl|cloud-sdk|google-cloud-cli|aws-cli|awscli|azure-cli)(?:$|[:@/])"
)

# Programs that only wait, print or probe: the command of a smoke test or a scheduling demo.
# `fi_info`, `ibv_devinfo` and `ibstat` list the network fabric (EFA, InfiniBand); `run_check`
# is PaddlePaddle's installation check, started by its launcher
# (`python -m paddle.distributed.launch run_check`).
_TRIVIAL = frozenset(
    {
        "sleep", "echo", "nvidia-smi", "cat", "ls", "true", "false", "printenv", "env", "date",
        "cowsay", "tail", "jq", "hostname", "whoami", "pause", "nbody", "vectoradd", "watch",
        "tensorboard", "entrypoint-tester", "argosay", "df", "uname", "free", "lscpu", "lspci",
        "fi_info", "ibv_devinfo", "ibv_devices", "ibstat", "run_check", "printf", "cd",
        "export", "set", "break", "continue",
    }
)  # fmt: skip
# Load generators and benchmark clients: a test pod, whatever image it runs in.
_LOAD_TEST = Pattern(r"\bgenai-perf\b|\bperf_analyzer\b|\blocust\b|\bvegeta\b|\bbenchmark_serving")
_SHELLS = frozenset(
    {"sh", "bash", "/bin/sh", "/bin/bash", "-c", "-lc", "-ec", "-xc", "-exc", "exec", "while",
     "do", "done", "then", "fi", "else", "elif", "if", "until", "!", "{", "}", "(", ")", "time"}
)  # fmt: skip
# Statements that start a loop or a case declare words, not a program to run.
_LOOP_HEADS = frozenset({"for", "select", "case", "esac"})
_ASSIGNMENT = Pattern(r"^[A-Za-z_][A-Za-z0-9_]*=")
_REDIRECT = Pattern(r"^\d*[<>]")

# Launchers start another program on this pod or on others (MPI ranks on the workers): what a
# pod does is what they start. Options of theirs that take a value, and how many values: Open
# MPI's and MPICH/Intel MPI's `mpirun`, `ssh`, and the PyTorch and PaddlePaddle launchers.
_MPI = frozenset({"mpirun", "mpiexec", "orterun", "mpiexec.hydra", "srun"})
_PYTHON_LAUNCHERS = frozenset(
    {"torch.distributed.run", "torch.distributed.launch", "paddle.distributed.launch"}
)
_OPTION_VALUES: dict[str, dict[str, int]] = {
    "mpi": {
        "-n": 1, "-np": 1, "-c": 1, "-N": 1, "-npernode": 1, "--npernode": 1, "-ppn": 1,
        "-H": 1, "-host": 1, "--host": 1, "-hosts": 1, "-hostfile": 1, "--hostfile": 1,
        "-machinefile": 1, "--machinefile": 1, "-f": 1, "-x": 1, "--bind-to": 1, "-bind-to": 1,
        "--map-by": 1, "-map-by": 1, "--rank-by": 1, "-wdir": 1, "--wdir": 1, "-wd": 1,
        "--prefix": 1, "--output-filename": 1, "--timeout": 1, "-mca": 2, "--mca": 2,
        "-gmca": 2, "--gmca": 2, "-genv": 2, "-env": 2, "-genvlist": 1, "--cpus-per-proc": 1,
        "--cpus-per-rank": 1, "-display-map": 0,
    },
    "ssh": {
        "-o": 1, "-p": 1, "-i": 1, "-l": 1, "-F": 1, "-J": 1, "-b": 1, "-c": 1, "-E": 1,
        "-L": 1, "-R": 1, "-D": 1, "-W": 1, "-S": 1, "-m": 1, "-e": 1,
    },
    "python": {
        "--nnodes": 1, "--nproc_per_node": 1, "--nproc-per-node": 1, "--node_rank": 1,
        "--node-rank": 1, "--master_addr": 1, "--master-addr": 1, "--master_port": 1,
        "--master-port": 1, "--rdzv_backend": 1, "--rdzv-backend": 1, "--rdzv_endpoint": 1,
        "--rdzv-endpoint": 1, "--rdzv_id": 1, "--rdzv-id": 1, "--max_restarts": 1,
        "--max-restarts": 1, "--devices": 1, "--gpus": 1, "--ips": 1, "--master": 1,
        "--log_dir": 1, "--job_id": 1, "--rank": 1, "--nproc": 1,
    },
}  # fmt: skip

# Words in a command, its arguments or its environment that say the container does ML work:
# trains, loads or downloads a model, reads a dataset, talks NCCL.
_ML_COMMAND = Pattern(
    r"(?i)(?<!resource-)(?<!resource_)"
    r"(?:\b|_)(?:train|training|finetune|fine-tune|fine_tune|torch|torchrun|deepspeed"
    r"|accelerate|transformers|huggingface|hugging_face|hf|model|models|checkpoint|checkpoints"
    r"|dataset|datasets|inference|llm|vllm|tensorflow|keras|jax|kaggle|weights|safetensors|gguf"
    r"|nccl|mpirun|horovod|epochs?|mnist|imagenet|cifar|bert|llama|gemma|mistral|lora|eval"
    r"|evaluate|evaluation|distill|mmlu|megatron)(?:\b|_)"
)


def _joined(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return " ".join(map(str, value))
    return str(value) if isinstance(value, str | int | float) else ""


def command_line(spec: Mapping[str, Any]) -> str:
    """A container's command and arguments as one line, as the patterns here read them."""
    command, args = spec.get("command"), spec.get("args")
    if command is None:
        return _joined(args).strip()  # most containers: the image's entrypoint with arguments
    return f"{_joined(command)} {_joined(args)}".strip()


def _env(spec: Mapping[str, Any]) -> str:
    env = spec.get("env")
    if not isinstance(env, list):
        return ""
    return " ".join(f"{e.get('name', '')} {e.get('value', '')}" for e in env if isinstance(e, dict))


def image_name(image: Any) -> str:
    """An image reference without tag or digest, lower-cased (`` when it is not a string)."""
    return _image_name(image) if isinstance(image, str) else ""


@functools.lru_cache(maxsize=4096)
def _image_name(image: str) -> str:
    name = image.strip().partition("@")[0].lower()
    colon = name.rfind(":")
    return name[:colon] if colon > name.rfind("/") else name


@functools.lru_cache(maxsize=4096)
def server_named(image: str, command: str) -> str | None:
    """The model server a container with this `image_name` and `command_line` runs (its name
    in `MODEL_SERVERS`), None if none is known."""
    # Dozens of patterns per container; a run or a cluster repeats few images and commands.
    commands, images, image_anything = _server_words()
    if commands.search(command):
        for s in MODEL_SERVERS:
            if s.command and s.command.search(command):
                return s.name
    if image:
        for s in MODEL_SERVERS if images.search(image) else image_anything:
            if s.image.search(image):
                # Known by its image, unless it only joins a Ray cluster (asked only now: most
                # images are of no model server).
                return None if _RAY_MEMBER.search(command) else s.name
    return None


@functools.cache
def _server_words() -> tuple[re.Pattern[str], re.Pattern[str], tuple[Server, ...]]:
    """One search for the words any server's command pattern needs, one for those its image
    pattern needs, and the servers whose image pattern needs none: a string without any of
    those words matches none of the patterns that need them (most commands and images name no
    model server), so `server_named` tries them only when it has one. A server known by its
    command only (its image pattern `(?!)` matches nothing) is in neither."""
    commands = [s.command for s in MODEL_SERVERS if s.command]
    by_image = [s for s in MODEL_SERVERS if s.image.pattern != _NOTHING]
    anything = tuple(s for s in by_image if "" in s.image.needs)
    images = [s.image for s in by_image if s not in anything]
    return _any_word(commands), _any_word(images), anything


def _any_word(patterns: list[Pattern]) -> re.Pattern[str]:
    words = sorted({w for p in patterns for w in p.needs}, key=len, reverse=True)
    return re.compile("|".join(map(re.escape, words)))


@functools.lru_cache(maxsize=4096)
def _service_name(name: str) -> bool:
    """Whether an image (`image_name`) is software that is not ML (a database, a proxy, a
    controller, a test image), whatever its command."""
    return bool(name) and bool(_SERVICE_IMAGES.search(name + ":"))


# Images whose own entrypoint is a server that runs until stopped.
_SERVERS_FOREVER = Pattern(
    r"(?:^|/)(?:nginx(?:-slim)?|httpd|postgres(?:ql)?|mysql|mariadb|mongo(?:db)?|redis|valkey"
    r"|memcached|elasticsearch|opensearch|kafka|rabbitmq|zookeeper|etcd|minio|envoy|haproxy"
    r"|traefik|caddy|tomcat)(?:$|[:@/])"
)


SLEEP_COMMANDS = ("sleep", "/bin/sleep", "/usr/bin/sleep")
FOREVER = ("infinity", "inf")


def serves_forever(spec: Mapping[str, Any]) -> bool:
    """Whether a container does not finish until it is stopped: a server image run with its own
    entrypoint (no command or arguments of its own), or `sleep infinity` as its whole command."""
    if sleeps_forever(spec):
        return True
    if "command" in spec or "args" in spec:
        return False
    name = image_name(spec.get("image"))
    return bool(name) and bool(_SERVERS_FOREVER.search(name + ":"))


def sleeps_forever(spec: Mapping[str, Any]) -> bool:
    """Whether a container's command and arguments are `sleep infinity` and nothing else."""
    words: list[Any] = []
    for key in ("command", "args"):
        value = spec.get(key, [])
        if not isinstance(value, list):
            return False
        words += value
    return len(words) == 2 and words[0] in SLEEP_COMMANDS and words[1] in FOREVER


@functools.lru_cache(maxsize=4096)
def _helper_name(name: str) -> bool:
    """Whether an image (`image_name`) is not ML software: a service (`_service_name`) or a
    shell or tool (`busybox`, `curl`, `google/cloud-sdk`)."""
    return bool(name) and (_service_name(name) or bool(_TOOL_IMAGES.search(name + ":")))


_TO_SEMICOLON = str.maketrans("&|\n", ";;;")


def _statements(command: str) -> list[str]:
    """A shell command's statements: split at `;`, `&`, `|` and line ends outside quotes, with
    backslash-newline continuations joined."""
    command = command.replace("\\\n", " ")
    if "'" not in command and '"' not in command:
        return [f for f in command.translate(_TO_SEMICOLON).split(";") if f.strip()]
    return [f for f in _STATEMENT.compiled.findall(command) if f.strip()]


_STATEMENT = Regex(r"""(?:[^;&|\n'"]+|'[^']*'?|"[^"]*"?)+""")
"""A statement: up to a separator outside quotes. A quote left open runs to the end, and
backslashes escape nothing."""


# Without quotes or backslashes, `shlex.split` only splits at these (and is slow: a Python loop
# over every character).
_BLANKS = str.maketrans("\t\r\n", "   ")


def _split(statement: str) -> list[str]:
    if "\\" not in statement:
        if "'" not in statement and '"' not in statement:
            if "\t" in statement or "\r" in statement or "\n" in statement:
                statement = statement.translate(_BLANKS)
            return [word for word in statement.split(" ") if word]
        words = _quoted_words(statement)
        if words is not None:
            return words
    import shlex  # only escapes and open quotes need it: kept off the start-up of a run

    try:
        return shlex.split(statement)
    except ValueError:  # an unbalanced quote, where a statement was split inside quotes
        return [w.strip("\"'") for w in statement.split()]


def _quoted_words(statement: str) -> list[str] | None:
    """`shlex.split(statement)` for a statement with quotes but no backslash, whose quotes all
    close (None otherwise): words split at blanks outside quotes, each quoted part's quotes
    removed. The same words, without `shlex`'s loop over every character."""
    words = []
    for match in _SHELL_WORD.compiled.finditer(statement):
        if match.group(1) is not None:
            return None  # a quote that does not close: shlex refuses it
        words.append("".join(a or b or c for a, b, c in _WORD_PART.compiled.findall(match.group())))
    return words


_SHELL_WORD = Regex(r"""(?:[^ \t\r\n'"]+|'[^']*'|"[^"]*"|(['"]))+""")
_WORD_PART = Regex(r"""'([^']*)'|"([^"]*)"|([^'"]+)""")


def _after_options(words: list[str], values: Mapping[str, int]) -> list[str]:
    """The words after a launcher's options: an option takes the values `values` gives it (none
    when written `--opt=value`); unexpanded variables, bare numbers and `NAME=value` words are
    values too."""
    index = 0
    while index < len(words):
        word = words[index]
        if word.startswith("-"):
            index += 1 + (0 if "=" in word else values.get(word, 0))
        elif word.startswith("$") or word.isdigit() or "=" in word or _REDIRECT.match(word):
            index += 1
        else:
            break
    return words[index:]


def _program(words: list[str]) -> list[str]:
    """The program a statement runs and its arguments, looking through shell syntax (keywords,
    assignments) and launchers (`mpirun`, `ssh`, `python -m torch.distributed.run`) at the
    program they start; empty when it runs none."""
    while words:
        head = words[0].rsplit("/", 1)[-1].lower()
        if head in _LOOP_HEADS:
            return []
        if words[0] in _SHELLS or _ASSIGNMENT.match(words[0]) or _REDIRECT.match(words[0]):
            words = words[1:]
        elif head in _MPI:
            words = _after_options(words[1:], _OPTION_VALUES["mpi"])
        elif head == "ssh":
            rest = _after_options(words[1:], _OPTION_VALUES["ssh"])
            words = rest[1:]  # after the host, the remote command; none is a login or a probe
        elif (
            head.startswith("python")
            and len(words) > 2
            and words[1] == "-m"
            and words[2] in _PYTHON_LAUNCHERS
        ):
            words = _after_options(words[3:], _OPTION_VALUES["python"])
        elif head == "torchrun":
            words = _after_options(words[1:], _OPTION_VALUES["python"])
        else:
            return words
    return []


def _programs(command: str) -> Iterator[str]:
    """The programs (base names) each statement of a command runs (`_program`), statement by
    statement: a reader may stop at the first that decides."""
    for statement in _statements(command):
        run = _program(_split(statement))
        if run:
            yield run[0].rsplit("/", 1)[-1].lower().strip("\"'")


@functools.lru_cache(maxsize=4096)
def _trivial(command: str) -> bool:
    """Whether every statement of a command runs a program that only waits, prints or probes,
    looking through launchers at what they start (`mpirun -n 2 fi_info` probes the fabric).
    The first program that does more decides: the statements after it are not read."""
    found = False
    for program in _programs(command):
        if program not in _TRIVIAL:
            return False
        found = True
    return found


def launched(spec: Mapping[str, Any]) -> list[str] | None:
    """What a container's MPI launcher (`mpirun`, `mpiexec`) starts on the ranks: each started
    program with its arguments, as one string; None when the container runs no MPI launcher."""
    found = _launched(command_line(spec))
    return None if found is None else list(found)


@functools.lru_cache(maxsize=4096)
def _launched(command: str) -> tuple[str, ...] | None:
    """`launched` of a command line (`command_line`), remembered: the pods of an MPI job
    repeat few command lines."""
    found: list[str] | None = None
    for statement in _statements(command):
        words = _split(statement)
        at = next((i for i, w in enumerate(words) if w.rsplit("/", 1)[-1].lower() in _MPI), None)
        if at is None:
            continue
        found = found if found is not None else []
        started = _after_options(words[at + 1 :], _OPTION_VALUES["mpi"])
        if started:
            found.append(" ".join(started))
    return None if found is None else tuple(found)


def does_ml(c: Container) -> bool:
    """Whether a container's image, command or environment says it does ML work."""
    if c.server is not None or not _name_words(c.image).isdisjoint(_ML_WORDS):
        return True
    return _speaks_ml(f"{c.command} {_env(c.spec)}")


# A part of each word `_ML_COMMAND` looks for, lower-cased: a text in ASCII that holds none of
# them once lower-cased holds none of the words in any case. Most commands and environments
# speak of no ML, and a few substring tests cost less than a search that tries the pattern's
# look-behinds at every position.
_ML_STEMS = (
    "train", "fine", "torch", "deepspeed", "accelerate", "transformers", "hugging", "hf", "model",
    "checkpoint", "dataset", "inference", "llm", "tensorflow", "keras", "jax", "kaggle",
    "weights", "safetensors", "gguf", "nccl", "mpirun", "horovod", "epoch", "mnist", "imagenet",
    "cifar", "bert", "llama", "gemma", "mistral", "lora", "eval", "distill", "mmlu", "megatron",
)  # fmt: skip


@functools.lru_cache(maxsize=4096)
def _speaks_ml(text: str) -> bool:
    """Whether a command and environment (`command_line`, `_env`) speak of ML work."""
    if text.isascii():  # `(?i)` matches other letters than `lower` gives outside ASCII
        lowered = text.lower()
        for stem in _ML_STEMS:
            if stem in lowered:
                break
        else:
            return False
    return bool(_ML_COMMAND.search(text))


def is_helper(c: Container) -> bool:
    """Whether a container is a helper, test or non-ML service: a service image (a database, a
    proxy, a controller, a test image), a command that only waits or prints (`sleep`,
    `nvidia-smi`), or a shell or tool image whose command and environment do not speak of
    models, datasets or training."""
    helper = _helper(c.command, c.image)
    if helper is not None:
        return helper
    return not _speaks_ml(f"{c.command} {_env(c.spec)}")


@functools.lru_cache(maxsize=4096)
def _helper(command: str, image: str) -> bool | None:
    """`is_helper` as far as the command and the image name decide it; None when the
    environment decides (a shell or tool image)."""
    if _trivial(command) or _service_name(image) or _LOAD_TEST.search(command):
        return True
    if not _helper_name(image):
        return False
    return None


# Words in an image repository's name that say it is ML software (`ghcr.io/acme/bert-server`),
# and those that say it answers requests. Matched against whole words of the name.
_ML_WORDS = frozenset(
    {
        "bert", "clip", "cuda", "deepspeed", "diffusers", "diffusion", "distill", "distillation",
        "embedding", "embeddings", "eval", "evaluation", "evaluator", "finetune", "finetuning",
        "gpt", "gpt2", "horovod", "huggingface", "infer", "inference", "jax", "jupyter", "kserve",
        "lightgbm", "llama", "llm", "megatron", "mlflow", "mnist", "mxnet", "nccl", "nemo",
        "notebook", "onnx", "paddle", "paddlepaddle", "predictor", "pretrain", "pytorch", "rerank",
        "reranker", "sdxl", "seldon", "sklearn", "tensorflow", "tensorrt", "torch", "train",
        "trainer", "training", "transformers", "whisper", "xgboost",
    }
)  # fmt: skip
_SERVING_WORDS = frozenset({"inference", "predictor", "serve", "server", "serving"})
_WORD = Pattern(r"[a-z0-9]+")


def _words(image: Any) -> frozenset[str]:
    return _name_words(image_name(image))


@functools.lru_cache(maxsize=4096)
def _name_words(name: str) -> frozenset[str]:
    return frozenset(_WORD.findall(name.rpartition("/")[2]))


def ml_image(image: Any) -> bool:
    """Whether an image's name says it is ML software (`bert-server`, `pytorch`)."""
    return not _words(image).isdisjoint(_ML_WORDS)


def serving_image(image: Any) -> bool:
    """Whether an image's name says it serves a model (`bert-server`, `clip-inference`)."""
    words = _words(image)
    return not words.isdisjoint(_ML_WORDS) and not words.isdisjoint(_SERVING_WORDS)


_PROBES = ("livenessProbe", "readinessProbe", "startupProbe")
# ML software with a web interface that is not a model server.
_UI_WORDS = frozenset({"jupyter", "notebook", "tensorboard", "mlflow", "kubeflow", "ui", "lab"})


def _ported_ml_image(spec: Mapping[str, Any]) -> bool:
    """An ML image (not a notebook or dashboard) with a declared container port."""
    ports = spec.get("ports")
    if not (isinstance(ports, list) and ports) or not ml_image(spec.get("image")):
        return False
    return _words(spec.get("image")).isdisjoint(_UI_WORDS)


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


class Traits(Frozen):
    """What one pod is; see the module docstring for how each is decided."""

    _fields = (
        "purpose",
        "reason",
        "accelerators",
        "claims",
        "server",
        "member",
        "replica",
        "long_running",
        "restart_policy",
        "serving",
    )

    purpose: Purpose
    reason: str
    """Why it has that purpose, in words fit for a message (`it runs vLLM`)."""
    accelerators: Mapping[str, int]
    """Accelerators the pod's main containers ask for, by resource name (summed)."""
    claims: tuple[str, ...]
    """DRA claims the pod declares (`spec.resourceClaims[].name`) or its containers use."""
    server: str | None
    """The model server a main container runs, when one is known (`vLLM`)."""
    member: Member | None
    """Its place in a multi-pod workload; None for a workload of one kind of pod."""
    replica: str | None
    """The replica type or group it belongs to as written (`Launcher`, `worker-group-1`)."""
    long_running: bool
    """Restarted when it exits (a Deployment's pods, a Ray cluster's), rather than run once."""
    restart_policy: str
    """The restart policy its pods run with: the pod's own, or for a Kubeflow replica the
    replica spec's, or the operator's default for that replica type."""
    serving: tuple[str, ...]
    """Pointers of the main containers that serve the model, in a model server: those running
    a known server, using accelerators or serving a port, or the only main container; not
    sidecars such as proxies and exporters."""

    def __init__(
        self,
        purpose: Purpose,
        reason: str,
        accelerators: Mapping[str, int] | None = None,
        claims: tuple[str, ...] = (),
        server: str | None = None,
        *,
        member: Member | None = None,
        replica: str | None = None,
        long_running: bool = False,
        restart_policy: str = "Always",
        serving: tuple[str, ...] = (),
    ) -> None:
        # Every pod of every object evaluated makes one: its fields are set in one call.
        vars(self).update(
            purpose=purpose,
            reason=reason,
            accelerators={} if accelerators is None else accelerators,
            claims=claims,
            server=server,
            member=member,
            replica=replica,
            long_running=long_running,
            restart_policy=restart_policy,
            serving=serving,
        )

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
        return device_of(self.accelerators, bool(self.claims))

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
        for n in c.claims:
            if n not in names:
                names.append(n)
    return tuple(names)


def _member(pod: Pod) -> tuple[Member | None, str | None]:
    if pod.template.member is not None:
        return pod.template.member, pod.template.member.value
    pointer = pod.pointer
    if (
        "ReplicaSpecs/" not in pointer
        and "/replicatedJobs/" not in pointer
        and "/tasks/" not in pointer
    ):
        return None, None  # the pod of no replica (most pods): no token below tells one
    tokens = pointer.split("/")
    for index, token in enumerate(tokens[:-1]):
        if token.endswith("ReplicaSpecs") or token in ("replicatedJobs", "tasks"):
            replica = tokens[index + 1]
            if token in {"replicatedJobs", "tasks"}:
                return None, replica
            return _REPLICA_MEMBERS.get(replica.lower(), Member.OTHER), replica
    return None, None


# Kubeflow replica restart policies when a replica spec sets none: PytorchJobDefaultRestartPolicy
# and PaddleJobDefaultRestartPolicy are OnFailure, TFJob, XGBoostJob, JAXJob and the v1 MPIJob
# default to Never (training-operator pkg/apis/kubeflow.org/v1/*_types.go); mpi-operator's
# v2beta1 MPIJob starts its Launcher with OnFailure (DefaultLauncherRestartPolicy,
# pkg/apis/kubeflow/v2beta1/constants.go). The replica's policy replaces the pod's.
_REPLICA_RESTART = {"PyTorchJob": "OnFailure", "PaddleJob": "OnFailure"}


def _restart_policy(pod: Pod, replica: str | None) -> str:
    own = pod.spec.get("restartPolicy")
    if replica is None or "ReplicaSpecs" not in pod.pointer:
        return own if isinstance(own, str) else "Always"  # the pod of no replica spec
    tokens = pod.pointer.split("/")
    specs = next((t for t in tokens if t.endswith("ReplicaSpecs")), None)
    if specs is None:
        return own if isinstance(own, str) else "Always"
    replica_spec = pod.obj
    for token in tokens[1 : tokens.index(specs) + 2]:
        replica_spec = replica_spec.get(token, {}) if isinstance(replica_spec, dict) else {}
    written = replica_spec.get("restartPolicy") if isinstance(replica_spec, dict) else None
    if isinstance(written, str):
        return written
    kind = pod.kind
    if kind == "MPIJob" and replica == "Launcher" and pod.api_version.endswith("v2beta1"):
        return "OnFailure"
    return _REPLICA_RESTART.get(kind, "Never")


def derive(pod: Pod) -> Traits:
    """The traits of one pod (`Pod.traits` caches them)."""
    main = list(pod.main_containers)
    accelerators: dict[str, int] = {}
    for c in main:
        for resource, count in c.accelerators.items():
            accelerators[resource] = accelerators.get(resource, 0) + count
    claims = _pod_claims(pod)
    server: str | None = None
    for c in main:
        server = c.server
        if server is not None:
            break
    member, replica = _member(pod)
    long_running = pod.role is not Role.BATCH
    uses = bool(accelerators) or bool(claims)
    # A GPU asked for under a name no device plugin advertises (`gpu: 1`) still says what the
    # pod is for, though it counts no accelerator.
    wants = uses or any(_asks_gpu(c.spec) for c in main)
    purpose, reason = _purpose(pod, main, wants, server, long_running)
    serving: tuple[str, ...] = ()
    if purpose is Purpose.MODEL_SERVER:
        serving = _serving(main)
    return Traits(
        purpose,
        reason,
        accelerators=accelerators,
        claims=claims,
        server=server,
        member=member,
        replica=replica,
        long_running=long_running,
        restart_policy=_restart_policy(pod, replica),
        serving=serving,
    )


def _asks_gpu(spec: Mapping[str, Any]) -> bool:
    resources = spec.get("resources")
    if not isinstance(resources, dict):
        return False
    for name in ("requests", "limits"):
        amounts = resources.get(name)
        if isinstance(amounts, dict):
            for resource in amounts:
                if isinstance(resource, str) and means_gpu(resource):
                    return True
    return False


def _serving(main: list[Container]) -> tuple[str, ...]:
    """The containers of a model-server pod that serve the model: those running a known server
    or using accelerators; else those serving a port; else the only one."""
    found = tuple(
        [
            c.pointer
            for c in main
            if c.server is not None or bool(c.accelerators) or bool(c.claims) or _asks_gpu(c.spec)
        ]
    )
    if not found:
        found = tuple(c.pointer for c in main if declares_port(c.spec) and not is_helper(c))
    if not found and len(main) == 1:
        found = (main[0].pointer,)
    return found


def _purpose(
    pod: Pod, main: list[Container], uses: bool, server: str | None, long_running: bool
) -> tuple[Purpose, str]:
    decided = pod.template.purpose
    if decided is Purpose.BATCH:
        # A training operator's kind says its pods run to completion, not that what they run
        # is ML: a job of smoke tests (`sleep`, `fi_info`, Paddle's `run_check`) is a test.
        if main and all(map(is_helper, main)):
            return Purpose.NOT_ML, "it only runs helpers, tests or probes"
        mpi = pod.mpi
        if mpi is not None:
            return mpi
    if decided is not None:
        return decided, f"it is a {pod.kind} {_what(decided)}"
    if main and all(map(is_helper, main)):
        return Purpose.NOT_ML, "it only runs helpers, tests or services that are not ML"
    evidence = uses or any(map(does_ml, main))
    if not long_running:
        if evidence:
            return Purpose.BATCH, "it runs ML work to completion"
        return Purpose.NOT_ML, "no accelerator, ML image or ML command"
    # Clients, web UIs and notebooks answer people, not inference requests.
    candidates = [c for c in main if not _fronts(c)]
    if main and not candidates:
        if uses:
            return Purpose.ML, "it runs a notebook or client on accelerators"
        return Purpose.NOT_ML, "it runs a client, a web UI or a notebook"
    server = next((c.server for c in candidates if c.server is not None), None)
    if server is not None:
        return Purpose.MODEL_SERVER, f"it runs {server}"
    if pod.role is Role.DAEMON:
        return Purpose.NOT_ML, "it is a per-node agent"
    if uses and any(declares_port(c.spec) for c in candidates):
        return Purpose.MODEL_SERVER, "it uses accelerators and serves a port"
    if any(serving_image(c.spec.get("image")) for c in candidates):
        return Purpose.MODEL_SERVER, "its image is named for serving a model"
    if any(_ported_ml_image(c.spec) for c in candidates):
        return Purpose.MODEL_SERVER, "it runs an ML image that serves a port"
    if evidence:
        return Purpose.ML, "it uses accelerators or runs ML software"
    return Purpose.NOT_ML, "no model server, accelerator, ML image or ML command"


def mpi_purpose(pods: list[Pod]) -> tuple[Purpose, str] | None:
    """Not ML, for the pods of an MPI job (a workload with a Launcher) whose ranks run no ML:
    the workers only host what the launcher's `mpirun` starts on them, so the job is what that
    is. Either every launcher only runs tests or probes (`mpirun fi_info`), or its `mpirun`
    starts programs that speak of no ML on pods that use no accelerator and run no ML image
    (the MPI `pi` demo). None when undecided. The same for every pod of the object: asked once
    per object, from all its `pods` (`Subject.mpi_purpose`, `Pod.mpi`)."""
    launchers = [p for p in pods if _member(p)[0] is Member.LAUNCHER]
    main = [c for p in launchers for c in p.main_containers]
    if not main:
        return None
    if all(is_helper(c) for c in main):
        return Purpose.NOT_ML, "its launcher only starts tests or probes"
    each = [_launched(c.command) for c in main]
    started = [s for found in each for s in found or ()]
    if not started or any(found is None for found in each):
        return None
    everyone = [c for p in pods for c in p.main_containers]
    if any(
        accelerators_of(c.spec)
        or claims_of(c.spec)
        or _asks_gpu(c.spec)
        or ml_image(c.spec.get("image"))
        for c in everyone
    ):
        return None
    if any(_ML_COMMAND.search(s) for s in started):
        return None
    return Purpose.NOT_ML, "its mpirun starts no ML program, on pods without accelerators"


# Words of an image or container name that say it is a client, a web UI or a notebook.
_FRONT_WORDS = frozenset(
    {
        "client", "webclient", "web", "ui", "webui", "frontend", "gradio", "streamlit", "chat",
        "chatbot", "dashboard", "loadgen", "loadgenerator", "locust", "jupyter", "notebook",
        "tensorboard",
    }
)  # fmt: skip
_NOTEBOOK = Pattern(r"\bjupyter\b|\bnotebook\b|\btensorboard\b")


def _fronts(c: Container) -> bool:
    """Whether a container is a client, a web UI or a notebook rather than a model server."""
    return _front(c.image, c.name, c.command)


@functools.lru_cache(maxsize=4096)
def _front(image: str, name: str, command: str) -> bool:
    words = _name_words(image) | set(_WORD.findall(name.lower()))
    return not words.isdisjoint(_FRONT_WORDS) or bool(_NOTEBOOK.search(command))


def _what(purpose: Purpose) -> str:
    return {
        Purpose.MODEL_SERVER: "model server",
        Purpose.BATCH: "batch run",
        Purpose.ML: "component",
        Purpose.NOT_ML: "helper",
    }[purpose]
