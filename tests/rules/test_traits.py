"""The workload model: what each pod is (purpose, accelerators, model server, place)."""

from __future__ import annotations

import itertools
import re
import shlex
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mllint.rules import Engine
from mllint.rules import traits as traits_module
from mllint.rules.traits import Member, Purpose, is_placeholder

ENGINE = Engine()


def deployment(*containers: dict[str, Any], **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d"},
        "spec": {"template": {"spec": {"containers": list(containers), **spec}}},
    }


def traits(obj: dict[str, Any], index: int = 0) -> Any:
    return ENGINE.subject(obj).pods[index].traits


def gpu(resource: str = "nvidia.com/gpu", count: Any = 1) -> dict[str, Any]:
    return {"limits": {resource: count}}


@pytest.mark.parametrize(
    "resource",
    [
        "nvidia.com/gpu",
        "nvidia.com/gpu.shared",
        "nvidia.com/mig-1g.5gb",
        "amd.com/gpu",
        "gpu.intel.com/i915",
        "gpu.intel.com/xe",
        "habana.ai/gaudi",
        "aws.amazon.com/neuron",
        "aws.amazon.com/neuroncore",
        "aws.amazon.com/neurondevice",
        "google.com/tpu",
    ],
)
def test_every_registered_accelerator_counts(resource: str) -> None:
    t = traits(deployment({"name": "c", "image": "acme/app:1", "resources": gpu(resource, "2")}))
    assert t.accelerators == {resource: 2}
    assert t.uses_accelerators
    assert t.purpose is Purpose.ML


def test_a_request_without_a_limit_counts_and_a_limit_wins() -> None:
    spec = {"requests": {"google.com/tpu": 4, "cpu": "1"}, "limits": {"nvidia.com/gpu": 1}}
    t = traits(deployment({"name": "c", "resources": spec}))
    assert t.accelerators == {"google.com/tpu": 4, "nvidia.com/gpu": 1}
    assert t.device == "accelerator"


def test_dra_claims_are_accelerator_use() -> None:
    obj = deployment(
        {"name": "c", "image": "acme/app:1", "resources": {"claims": [{"name": "gpus"}]}},
        resourceClaims=[{"name": "gpus", "resourceClaimTemplateName": "one-gpu"}],
    )
    t = traits(obj)
    assert t.claims == ("gpus",)
    assert t.uses_accelerators and t.accelerator_count == 0


@pytest.mark.parametrize(
    ("container", "server"),
    [
        ({"image": "vllm/vllm-openai:v0.6.3"}, "vLLM"),
        ({"image": "python:3.12", "command": ["vllm", "serve", "meta-llama/Llama-3.1-8B"]}, "vLLM"),
        ({"image": "lmsysorg/sglang:v0.4.0"}, "SGLang"),
        (
            {"image": "ghcr.io/huggingface/text-generation-inference:2.4"},
            "Text Generation Inference",
        ),
        ({"image": "nvcr.io/nvidia/tritonserver:24.08-py3"}, "Triton"),
        ({"image": "pytorch/torchserve:0.12.0-gpu"}, "TorchServe"),
        ({"image": "seldonio/mlserver:1.6.0"}, "MLServer"),
        ({"image": "tensorflow/serving:2.17.0"}, "TensorFlow Serving"),
        ({"image": "ghcr.io/ggml-org/llama.cpp:server"}, "llama.cpp server"),
        ({"image": "ollama/ollama:0.4.0"}, "Ollama"),
        ({"image": "nvcr.io/nim/meta/llama-3.1-8b-instruct:1.3.3"}, "NVIDIA NIM"),
        (
            {"image": "rayproject/ray:2.40.0", "command": ["serve", "run", "app:deployment"]},
            "Ray Serve",
        ),
    ],
)
def test_a_long_running_pod_running_a_known_model_server_is_one(
    container: dict[str, Any], server: str
) -> None:
    t = traits(deployment({"name": "c", **container}))
    assert t.purpose is Purpose.MODEL_SERVER
    assert t.server == server


def test_accelerators_and_a_served_port_make_a_model_server() -> None:
    served = deployment(
        {"name": "c", "image": "acme/sd:1", "ports": [{"containerPort": 7860}], "resources": gpu()}
    )
    assert traits(served).purpose is Purpose.MODEL_SERVER
    unported = deployment({"name": "c", "image": "acme/nccl-test:1", "resources": gpu()})
    assert traits(unported).purpose is Purpose.ML


@pytest.mark.parametrize(
    "image",
    ["postgres:16", "bitnami/kafka:3.7", "nginx:1.27", "redis:7", "acme/web-frontend:2.0"],
)
def test_everything_else_long_running_is_not_ml(image: str) -> None:
    obj = deployment({"name": "c", "image": image, "ports": [{"containerPort": 5432}]})
    assert traits(obj).purpose is Purpose.NOT_ML


def test_a_job_is_batch_unless_it_only_runs_helpers() -> None:
    def job(image: str) -> dict[str, Any]:
        return {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "spec": {"template": {"spec": {"containers": [{"name": "c", "image": image}]}}},
        }

    assert traits(job("acme/finetune:1")).purpose is Purpose.BATCH
    assert traits(job("busybox:1.36")).purpose is Purpose.NOT_ML


def test_in_a_model_server_pod_sidecars_do_not_serve() -> None:
    obj = deployment(
        {"name": "server", "image": "vllm/vllm-openai:v0.6.3", "resources": gpu()},
        {"name": "proxy", "image": "acme/auth-proxy:1"},
    )
    assert traits(obj).serving == ("/spec/template/spec/containers/0",)


def test_the_kind_decides_for_serving_kinds_and_ray() -> None:
    isvc = {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "spec": {"predictor": {"containers": [{"name": "kserve-container", "image": "a/b:1"}]}},
    }
    assert traits(isvc).purpose is Purpose.MODEL_SERVER
    ray = {
        "apiVersion": "ray.io/v1",
        "kind": "RayCluster",
        "spec": {
            "headGroupSpec": {"template": {"spec": {"containers": [{"name": "head"}]}}},
            "workerGroupSpecs": [{"template": {"spec": {"containers": [{"name": "w"}]}}}],
        },
    }
    assert [(t.purpose, t.member) for t in (traits(ray, 0), traits(ray, 1))] == [
        (Purpose.ML, Member.HEAD),
        (Purpose.ML, Member.WORKER),
    ]


def test_replica_types_name_launchers_and_workers() -> None:
    mpi = {
        "apiVersion": "kubeflow.org/v2beta1",
        "kind": "MPIJob",
        "spec": {
            "mpiReplicaSpecs": {
                "Launcher": {"template": {"spec": {"containers": [{"name": "l"}]}}},
                "Worker": {"template": {"spec": {"containers": [{"name": "w"}]}}},
            }
        },
    }
    assert [(traits(mpi, i).member, traits(mpi, i).replica) for i in (0, 1)] == [
        (Member.LAUNCHER, "Launcher"),
        (Member.WORKER, "Worker"),
    ]


def test_a_modelmesh_predictor_makes_no_pods_but_its_transformer_does() -> None:
    isvc = {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {"annotations": {"serving.kserve.io/deploymentMode": "ModelMesh"}},
        "spec": {
            "predictor": {"model": {"modelFormat": {"name": "sklearn"}, "storageUri": "s3://m"}},
            "transformer": {"containers": [{"name": "t", "image": "acme/feast:1"}]},
        },
    }
    assert [p.pointer for p in ENGINE.subject(isvc).pods] == ["/spec/transformer"]


@pytest.mark.parametrize(
    "value",
    [
        "${IMAGE}",
        "$IMAGE",
        "$(REGISTRY)/trainer:1",
        "{{ .Values.image }}",
        "<image>",
        "IMG_PLACEHOLDER",
        "REPLACE_ME",
        "gcr.io/YOUR_PROJECT/app:1",
        "us-docker.pkg.dev/PROJECT_ID/repo/app",
    ],
)
def test_placeholders(value: str) -> None:
    assert is_placeholder(value)


@pytest.mark.parametrize(
    "value", ["vllm/vllm-openai:v0.6.3", "nvcr.io/nvidia/pytorch:24.08-py3", "busybox"]
)
def test_values_are_not_placeholders(value: str) -> None:
    assert not is_placeholder(value)


def test_a_misspelt_gpu_request_still_says_what_the_pod_is_for() -> None:
    obj = deployment(
        {
            "name": "server",
            "image": "ghcr.io/example/sentiment-server",
            "ports": [{"containerPort": 8080}],
            "resources": {"requests": {"gpu": 1}},
        }
    )
    t = traits(obj)
    assert t.purpose is Purpose.MODEL_SERVER
    assert t.accelerators == {}


@pytest.mark.parametrize(
    ("container", "purpose"),
    [
        ({"image": "ubuntu:22.04", "command": ["sleep", "infinity"]}, Purpose.NOT_ML),
        ({"image": "nvcr.io/nvidia/k8s/cuda-sample:nbody"}, Purpose.NOT_ML),
        (
            {"image": "ubuntu:22.04", "command": ["bash", "-c", "nvidia-smi -L; sleep 3600"]},
            Purpose.NOT_ML,
        ),
        ({"image": "ubuntu:22.04", "args": ["python", "train.py", "--epochs", "3"]}, Purpose.ML),
    ],
)
def test_demos_on_accelerators_are_not_ml_but_training_on_a_plain_image_is(
    container: dict[str, Any], purpose: Purpose
) -> None:
    t = traits(deployment({"name": "c", **container, "resources": gpu()}))
    assert t.purpose is purpose


def test_kubeflow_replicas_run_with_their_kinds_restart_policy() -> None:
    def job(kind: str, specs: str, replica: dict[str, Any]) -> dict[str, Any]:
        template = {"template": {"spec": {"containers": [{"name": "c"}]}}}
        return {
            "apiVersion": "kubeflow.org/v1",
            "kind": kind,
            "spec": {specs: {"Worker": {**replica, **template}}},
        }

    assert traits(job("PyTorchJob", "pytorchReplicaSpecs", {})).restart_policy == "OnFailure"
    assert traits(job("TFJob", "tfReplicaSpecs", {})).restart_policy == "Never"
    written = job("TFJob", "tfReplicaSpecs", {"restartPolicy": "ExitCode"})
    assert traits(written).restart_policy == "ExitCode"


@pytest.mark.parametrize(
    ("container", "purpose"),
    [
        (  # a notebook on a GPU answers people, not inference requests
            {
                "image": "nvcr.io/nvidia/tensorflow:24.08-tf2-py3",
                "command": ["jupyter", "lab", "--port=8888"],
                "ports": [{"containerPort": 8888}],
                "resources": gpu(),
            },
            Purpose.ML,
        ),
        (  # a benchmark client in a server image is a test pod
            {
                "image": "nvcr.io/nvidia/vllm:25.09-py3",
                "command": ["sh", "-c", "genai-perf profile -m gemma --url http://llm:8000"],
            },
            Purpose.NOT_ML,
        ),
        (  # a web client of a diffusion server
            {"name": "webclient", "image": "ghcr.io/example/max-diffusion-web:1.0"},
            Purpose.NOT_ML,
        ),
    ],
)
def test_clients_uis_and_notebooks_are_not_model_servers(
    container: dict[str, Any], purpose: Purpose
) -> None:
    assert traits(deployment({"name": "c", **container})).purpose is purpose


def test_a_daemonset_is_a_per_node_agent_unless_it_runs_a_model_server() -> None:
    agent = {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {"name": "dcgm", "image": "nvcr.io/nvidia/cloud-native/dcgm:3.3.5"}
                    ]
                }
            }
        },
    }
    assert traits(agent).purpose is Purpose.NOT_ML
    agent["spec"]["template"]["spec"]["containers"][0]["image"] = "ollama/ollama:0.4.0"
    assert traits(agent).purpose is Purpose.MODEL_SERVER


def test_an_mpi_job_is_what_its_launcher_starts() -> None:
    def mpijob(launcher: dict[str, Any], worker: dict[str, Any]) -> dict[str, Any]:
        return {
            "apiVersion": "kubeflow.org/v2beta1",
            "kind": "MPIJob",
            "spec": {
                "mpiReplicaSpecs": {
                    "Launcher": {"template": {"spec": {"containers": [launcher]}}},
                    "Worker": {"template": {"spec": {"containers": [worker]}}},
                }
            },
        }

    worker = {"name": "w", "image": "acme/mpi:1", "resources": gpu()}
    # A fabric probe through mpirun (its options and their values skipped), after a shell loop.
    probe = {
        "name": "l",
        "image": "acme/mpi:1",
        "command": ["/bin/bash", "-lc"],
        "args": [
            'for h in $(cat hosts); do ssh -o ConnectTimeout=2 "$h" true; done\n'
            "mpirun -np 2 --mca btl tcp,self -x NCCL_DEBUG=INFO \\\n  /opt/efa/bin/fi_info -p efa"
        ],
    }
    assert [traits(mpijob(probe, worker), i).purpose for i in (0, 1)] == [Purpose.NOT_ML] * 2
    # A training program through mpirun is what it is, whatever the launcher's preamble.
    train = {**probe, "args": ["mpirun -np 2 -x NCCL_DEBUG=INFO python train.py"]}
    assert [traits(mpijob(train, worker), i).purpose for i in (0, 1)] == [Purpose.BATCH] * 2
    # A program that is not ML, on pods with no accelerator or ML image: not ML.
    pi = {"name": "l", "image": "mpi-pi:1", "command": ["mpirun", "-n", "2", "/home/pi"]}
    plain = {"name": "w", "image": "mpi-pi:1", "command": ["/usr/sbin/sshd", "-De"]}
    assert traits(mpijob(pi, plain), 1).purpose is Purpose.NOT_ML
    # ...but the same program on accelerators is judged as the job it is.
    assert traits(mpijob(pi, worker), 1).purpose is Purpose.BATCH


def test_a_training_operator_job_of_smoke_tests_is_not_ml() -> None:
    paddle = {
        "apiVersion": "kubeflow.org/v1",
        "kind": "PaddleJob",
        "spec": {
            "paddleReplicaSpecs": {
                "Worker": {
                    "template": {
                        "spec": {
                            "containers": [
                                {
                                    "name": "paddle",
                                    "image": "paddlepaddle/paddle:2.5.1",
                                    "command": ["python", "-m", "paddle.distributed.launch"],
                                    "args": ["--nnodes", "2", "run_check"],
                                }
                            ]
                        }
                    }
                }
            }
        },
    }
    assert traits(paddle).purpose is Purpose.NOT_ML
    spec = paddle["spec"]["paddleReplicaSpecs"]["Worker"]["template"]["spec"]
    spec["containers"][0]["args"] = ["--nnodes", "2", "train.py"]
    assert traits(paddle).purpose is Purpose.BATCH


@pytest.mark.parametrize(
    ("pattern", "words"),
    [
        (r"\bvllm\s+serve\b|\bvllm\.entrypoints\b", ("serve", "vllm.entrypoints")),
        (r"(?:^|/)ollama(?:$|/)", ("ollama",)),
        (r"jetstream(?!-http)|maxengine", ("jetstream", "maxengine")),
        (r"kserve/[a-z]+server|kfserving/[a-z]+server", ("kserve/", "kfserving/")),
        (r"llama\.cpp|llama-cpp", ("llama.cpp", "llama-cpp")),
        (r"^[a-z0-9.-]+\.[a-z]+/gpu(?:\.shared)?$", ("/gpu",)),
        (r"[|]abc|(a|b)de", ("abc", "de")),
        (r"[]x]yz|ab?c|abc+d|x{1,3}yz", ("yz", "a", "abc", "yz")),
        (r"(?!)", ("",)),
        (r"a|", ("",)),
        (r"(?i)abc", ("",)),
        (r"(?#note)abc", ("",)),
        (r"\x41bc|\1de", ("",)),
    ],
)
def test_a_pattern_needs_the_plain_words_of_each_alternative(
    pattern: str, words: tuple[str, ...]
) -> None:
    assert traits_module.needed(pattern) == words


def _strings(pattern: str) -> set[str]:
    words = re.findall(r"[A-Za-z0-9_.:/${}<>=-]+", pattern)
    found = {"", " ", "x"}
    for word in words:
        found |= {word, word.upper(), f"x {word} y", f"/{word}:", word[:-1], word[1:]}
    for a, b in itertools.pairwise(words):
        found |= {f"{a} {b}", f"{a}{b}", f"{a}/{b}:latest"}
    return found


def test_patterns_that_skip_strings_without_their_words_find_what_re_finds() -> None:
    patterns = [v for v in vars(traits_module).values() if isinstance(v, traits_module.Pattern)]
    patterns += [s.image for s in traits_module.MODEL_SERVERS]
    patterns += [s.command for s in traits_module.MODEL_SERVERS if s.command]
    strings = set().union(*(_strings(p.pattern) for p in patterns))
    for pattern in patterns:
        plain = re.compile(pattern.pattern, pattern.flags)
        for string in strings:
            found, expected = pattern.search(string), plain.search(string)
            assert (found and found.span()) == (expected and expected.span()), (pattern, string)
            found, expected = pattern.match(string), plain.match(string)
            assert (found and found.span()) == (expected and expected.span()), (pattern, string)
            assert pattern.findall(string) == plain.findall(string), (pattern, string)


def _shlex_words(statement: str) -> list[str]:
    """What `traits._split` promises: `shlex.split`, or blank-split words without their
    quotes where shlex refuses a statement."""
    try:
        return shlex.split(statement)
    except ValueError:
        return [w.strip("\"'") for w in statement.split()]


def _statements_by_hand(command: str) -> list[str]:
    """`traits._statements` spelled out: split at `;`, `&`, `|` and newlines outside quotes
    (no escapes; a quote left open runs to the end), blank statements dropped."""
    command = command.replace("\\\n", " ")
    found, current, quote = [], "", ""
    for ch in command:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in ";&|\n":
            found.append(current)
            current = ""
            continue
        current += ch
    return [f for f in [*found, current] if f.strip()]


SHELL = "ab -=$#;&|\n\t\r'\"\\\xa0"
"""Characters that matter to splitting a command line, and some that must not."""


@settings(derandomize=True, max_examples=3000, deadline=None, database=None)
@given(st.text(alphabet=SHELL, max_size=30))
def test_command_lines_split_as_shlex_splits_them(command: str) -> None:
    assert traits_module._statements(command) == _statements_by_hand(command)
    for statement in traits_module._statements(command):
        assert traits_module._split(statement) == _shlex_words(statement), statement


@pytest.mark.parametrize(
    ("statement", "words"),
    [
        ("python -c 'print(1)'", ["python", "-c", "print(1)"]),
        ("a'b c'd \"e f\" ''", ["ab cd", "e f", ""]),
        ('echo "it\'s"', ["echo", "it's"]),
        ("echo 'open", ["echo", "open"]),  # shlex refuses it
        ("echo a\\ b", ["echo", "a b"]),
    ],
)
def test_quoted_statements_are_split_into_shell_words(statement: str, words: list[str]) -> None:
    assert traits_module._split(statement) == words


def _server_by_re(image: str, command: str) -> str | None:
    """`traits.server_named` by plain `re` over every server's patterns, in order."""
    servers = traits_module.MODEL_SERVERS
    for s in servers:
        if s.command and re.search(s.command.pattern, command):
            return s.name
    if re.search(traits_module._RAY_MEMBER.pattern, command):
        return None
    for s in servers:
        if image and re.search(s.image.pattern, image):
            return s.name
    return None


SERVER_WORDS = sorted(
    {
        w
        for s in traits_module.MODEL_SERVERS
        for p in (s.image, s.command)
        if p
        for w in [*p.needs, *re.findall(r"[a-z][a-z._/-]+", p.pattern)]
        if w
    }
)


@settings(derandomize=True, max_examples=3000, deadline=None, database=None)
@given(
    st.lists(st.sampled_from([*SERVER_WORDS, " ", "/", ":", "-", "ray start", "x"]), max_size=6),
    st.lists(
        st.sampled_from([*SERVER_WORDS, " ", "--port", "ray start", "serve", "x"]), max_size=8
    ),
)
def test_the_server_a_container_runs_is_the_first_whose_pattern_re_finds(
    image: list[str], command: list[str]
) -> None:
    image_name, command_line = "".join(image), " ".join(command)
    traits_module.server_named.cache_clear()
    assert traits_module.server_named(image_name, command_line) == _server_by_re(
        image_name, command_line
    )


def _ml_alternatives() -> list[str]:
    """The words `_ML_COMMAND` looks for, as its pattern spells them (`epochs?`)."""
    source = traits_module._ML_COMMAND.pattern
    group = source[source.index("(?:train") + 3 : source.rindex(")(?:\\b|_)")]
    return group.split("|")


def test_every_word_of_the_ml_command_pattern_holds_a_stem() -> None:
    alternatives = _ml_alternatives()
    assert "train" in alternatives and "megatron" in alternatives
    for alternative in alternatives:
        word = alternative.removesuffix("s?")
        assert re.fullmatch(r"[a-z_-]+", word), alternative
        assert any(stem in word for stem in traits_module._ML_STEMS), alternative


ML_TEXT = [
    *(w.removesuffix("s?") for w in _ml_alternatives()),
    "s", "TRAIN", "Model", "resource-", "resource_", "_", "-", " ", "x", "=", "/",
    "\u0130", "\u212a", "\u017f", "\u0131",  # letters `(?i)` matches to ASCII ones
]  # fmt: skip


@settings(derandomize=True, max_examples=3000, deadline=None, database=None)
@given(st.lists(st.sampled_from(ML_TEXT), max_size=8))
def test_a_text_speaks_of_ml_exactly_when_the_pattern_finds_it(parts: list[str]) -> None:
    text = "".join(parts)
    expected = re.search(traits_module._ML_COMMAND.pattern, text) is not None
    assert traits_module._speaks_ml.__wrapped__(text) is expected


@pytest.mark.parametrize("text", ["TRA\u0130N.py", "run_mode\u212a", "Fine-tune"])
def test_letters_outside_ascii_that_match_ml_words_case_blind_are_searched(text: str) -> None:
    expected = re.search(traits_module._ML_COMMAND.pattern, text) is not None
    assert traits_module._speaks_ml.__wrapped__(text) is expected


TRIVIAL_WORDS = ["sleep 1", "echo hi", "mpirun -n 2 fi_info", "X=1", "python train.py", "", "cd /"]


@settings(derandomize=True, max_examples=500, deadline=None, database=None)
@given(
    st.lists(st.sampled_from(TRIVIAL_WORDS), max_size=5),
    st.sampled_from(["; ", " && ", "\n", " | "]),
)
def test_a_command_is_trivial_when_every_program_it_runs_is(parts: list[str], sep: str) -> None:
    command = sep.join(parts)
    programs = list(traits_module._programs(command))
    expected = bool(programs) and all(p in traits_module._TRIVIAL for p in programs)
    assert traits_module._trivial.__wrapped__(command) is expected


PLACEHOLDER_PARTS = [
    "$", "{", "}", "{{", "}}", "{%", "%}", "<", ">", "(", ")", "_", "/", ":", "@", ".", "-", "x",
    "VAR", "IMAGE", "TAG", "YOUR", "PROJECT_ID", "A1", "a", "image", "tag", "\u0130", "\u212a",
]  # fmt: skip


@settings(derandomize=True, max_examples=3000, deadline=None, database=None)
@given(st.lists(st.sampled_from(PLACEHOLDER_PARTS), max_size=6))
def test_a_value_is_a_placeholder_exactly_when_the_pattern_finds_one(parts: list[str]) -> None:
    text = "".join(parts)
    expected = re.search(traits_module._PLACEHOLDER.pattern, text) is not None
    assert traits_module._placeholder.__wrapped__(text) is expected
