"""Draw the ML objects to review by hand for recall cases (tests/accuracy/recall.tsv).

Reads every YAML document of the corpus, keeps the ML objects (named by a framework, model
server, model or task word; placeholder names left out), sorts them into five groups and draws
from each at random with a fixed seed, at most two objects of a group from one project
(top-level folder) and one object per file, so that the sample spreads over projects:

- accelerators: an object whose containers ask for an accelerator (GPU, TPU, Neuron, Gaudi...);
- training: a training or batch kind (PyTorchJob, MPIJob, TFJob, JobSet, TrainJob, RayJob,
  Volcano Job...) or a Job;
- serving: a serving kind (InferenceService, LLMInferenceService, SeldonDeployment, RayService,
  LeaderWorkerSet...) or a Deployment/StatefulSet whose image is a known model server;
- cronjobs: a CronJob;
- autoscalers: a HorizontalPodAutoscaler.

An object drawn for one group is not drawn again for another. Prints one line per object:
group, file (relative to the corpus), kind, name.

    python bench/sample_objects.py [--corpus ../shared/corpus] [--per-group 7]
"""

from __future__ import annotations

import argparse
import random
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
ACCELERATORS = (
    "nvidia.com/gpu",
    "nvidia.com/mig-",
    "amd.com/gpu",
    "gpu.intel.com/",
    "habana.ai/gaudi",
    "aws.amazon.com/neuron",
    "google.com/tpu",
)
TRAINING = {
    "PyTorchJob", "MPIJob", "TFJob", "XGBoostJob", "PaddleJob", "JAXJob", "JobSet", "TrainJob",
    "RayJob", "Job", "Workflow", "Experiment",
}  # fmt: skip
SERVING = {
    "InferenceService", "LLMInferenceService", "ServingRuntime", "ClusterServingRuntime",
    "SeldonDeployment", "RayService", "LeaderWorkerSet",
}  # fmt: skip
SERVER_IMAGES = (
    "vllm", "sglang", "text-generation-inference", "tritonserver", "torchserve", "mlserver",
    "tensorflow/serving", "ollama", "llama.cpp", "nvcr.io/nim", "jetstream", "tgi",
)  # fmt: skip
# Words that mark an object as an ML workload (framework, model server, model or task names), at
# the start of a word; an object whose text holds none (a web demo, a smoke-test pod) is left out.
ML_WORDS = (
    "torch", "tensorflow", "jax", "vllm", "sglang", "triton", "kserve", "seldon", "ray", "nemo",
    "huggingface", "hf_token", "model", "train", "inference", "llm", "gemma", "llama", "mistral",
    "bert", "mnist", "resnet", "diffusion", "deepspeed", "megatron", "horovod", "xgboost",
    "sklearn", "maxtext", "saxml", "t5",
)  # fmt: skip
ML_WORD = re.compile(r"(?<![a-z])(" + "|".join(ML_WORDS) + ")")
GROUPS = ("accelerators", "training", "serving", "cronjobs", "autoscalers")


def objects(corpus: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    for path in sorted(corpus.rglob("*")):
        if path.suffix not in (".yaml", ".yml") or not path.is_file():
            continue
        try:
            docs = list(yaml.load_all(path.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader))
        except (yaml.YAMLError, UnicodeDecodeError, ValueError):
            continue
        for doc in docs:
            if isinstance(doc, dict) and isinstance(doc.get("metadata"), dict):
                yield str(path.relative_to(corpus)), doc


def text(node: Any) -> str:
    """Every mapping key and scalar under `node`, for the searches below."""
    if isinstance(node, dict):
        return " ".join(f"{k} {text(v)}" for k, v in node.items())
    if isinstance(node, list):
        return " ".join(text(v) for v in node)
    return str(node)


def groups(doc: dict[str, Any]) -> list[str]:
    kind = str(doc.get("kind", ""))
    spec = text(doc.get("spec", {}))
    name = str(doc["metadata"].get("name", ""))
    if "${" in name or "{{" in name or not ML_WORD.search(text(doc).lower()):
        return []
    found = []
    if any(a in spec for a in ACCELERATORS):
        found.append("accelerators")
    if kind in TRAINING or (kind == "Job" and "batch.volcano.sh" in str(doc.get("apiVersion"))):
        found.append("training")
    images = " ".join(w for w in spec.split() if "/" in w or ":" in w).lower()
    if kind in SERVING or (
        kind in ("Deployment", "StatefulSet") and any(s in images for s in SERVER_IMAGES)
    ):
        found.append("serving")
    if kind == "CronJob":
        found.append("cronjobs")
    if kind == "HorizontalPodAutoscaler":
        found.append("autoscalers")
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus")
    parser.add_argument("--per-group", type=int, default=7)
    parser.add_argument("--seed", default="mllint-recall")
    args = parser.parse_args()

    pool: dict[str, list[tuple[str, str, str]]] = {g: [] for g in GROUPS}
    for file, doc in objects(args.corpus):
        for group in groups(doc):
            pool[group].append((file, str(doc["kind"]), str(doc["metadata"].get("name", ""))))
    drawn: set[tuple[str, str, str]] = set()
    files: set[str] = set()
    for group in GROUPS:
        candidates = sorted(pool[group])
        random.Random(f"{args.seed}-{group}").shuffle(candidates)
        per_project: Counter[str] = Counter()
        taken = 0
        for obj in candidates:
            project = obj[0].split("/", 1)[0]
            if obj in drawn or obj[0] in files or per_project[project] >= 2:
                continue
            drawn.add(obj)
            files.add(obj[0])
            per_project[project] += 1
            print("\t".join((group, *obj)))
            taken += 1
            if taken == args.per_group:
                break


if __name__ == "__main__":
    main()
