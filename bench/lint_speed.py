"""How fast `mllint` lints, against PyYAML's C loader measured in the same run.

    python bench/lint_speed.py [--repeat N] [--corpus DIR]

The baseline only parses (`yaml.load_all(..., Loader=yaml.CSafeLoader)`): mllint parses too, then
builds positions, runs every rule and writes a report. Every figure is the best of N repetitions
and is printed as a ratio to its baseline (lower is better); nothing here fails on time.

1. corpus, in process: the same files, once from memory and once read from disk;
2. corpus, whole command lines: `mllint CORPUS` against a `python -c` that loads every file, in
   wall time and in CPU time (user + system, worker processes included) (`--only command` runs
   this section alone);
3. cold start on one small file: `mllint small.yaml` against `python -c "import yaml"`, in wall
   time and in CPU time (medians of alternating runs), and which packages the lint path imports
   (`--only cold` runs this section alone);
4. growth: N and 4N generated documents (time ratio should be about 4); peak RSS for
   200 and 2000 files (should stay flat);
5. parallel runs: one process against worker processes, by number of files;
6. scale: the corpus copied into 10 and 50 folders, linted whole; wall and CPU time should grow
   linearly (x10, x50) and peak memory stay flat, in the main process (the walk, the whole-set
   summaries, the report) and in the largest worker.

The corpus is ../shared/corpus beside the repository; the sections that need it are skipped
with a message when it is absent.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import yaml
from corpus_run import mllint_command

from mllint.linter import discover, lint, runner
from mllint.linter.discover import Excluder
from mllint.rules import Engine

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus"
TARGET_CORPUS = 1.0
TARGET_CPU = 1.5
TARGET_COLD = 2.5
SCALES = (10, 50)
MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
HEAVY = (
    "fastapi",
    "starlette",
    "uvicorn",
    "kubernetes",
    "pydantic_settings",
    "prometheus_client",
    "cryptography",
    "ruamel",
    "httpx",
)

# The baseline command line: walk the folder as mllint does and parse each file, nothing else.
# ValueError too: PyYAML's constructor raises it for impossible dates such as 2020-13-45.
BASELINE = """
import os, sys, yaml
n = 0
for root, dirs, files in os.walk(sys.argv[1], followlinks=True):
    dirs.sort()
    for name in sorted(files):
        if name.endswith((".yaml", ".yml", ".json")):
            with open(os.path.join(root, name), "rb") as fh:
                try:
                    n += sum(1 for _ in yaml.load_all(fh.read(), Loader=yaml.CSafeLoader))
                except (yaml.YAMLError, ValueError):
                    pass
print(n)
"""

# The same parse shared by one process per core, working at once, as `mllint CORPUS` works: what
# this machine charges in CPU time for both cores busy, with no work of mllint's in it.
BASELINE_CORES = """
import os, sys, yaml
files = []
for root, dirs, names in os.walk(sys.argv[1], followlinks=True):
    dirs.sort()
    names = sorted(n for n in names if n.endswith((".yaml", ".yml", ".json")))
    files += [os.path.join(root, n) for n in names]
cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
share, children = 0, []
for share in range(1, cores):
    pid = os.fork()
    if pid == 0:
        break
    children.append(pid)
else:
    share = 0
for path in files[share::cores]:
    with open(path, "rb") as fh:
        try:
            sum(1 for _ in yaml.load_all(fh.read(), Loader=yaml.CSafeLoader))
        except (yaml.YAMLError, ValueError):
            pass
if share:
    os._exit(0)
for pid in children:
    os.waitpid(pid, 0)
"""

MEMORY = """
import os, resource, sys
from mllint.linter.cli import main
code = main([sys.argv[1], "--format", "json", "-o", os.devnull, "-j", sys.argv[2]])
if code not in (0, 1):
    sys.exit(f"mllint exited {code}")
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
      resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""

IMPORTS = """
import json, os, sys
from mllint.linter.cli import main
main([sys.argv[1], "-o", os.devnull])
names = {m.partition(".")[0] for m in sys.modules} - set(sys.stdlib_module_names)
print(json.dumps(sorted(n for n in names if not n.startswith("_") and n != "cython_runtime")))
"""


# Commands run with their bytecode cached: with PYTHONDONTWRITEBYTECODE set, an editable install
# compiles every mllint module on every start while the baseline's yaml loads from its cache.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def best(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def run_quiet(argv: Sequence[str]) -> None:
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False, env=ENV)


def report(label: str, ours: float, base: float, target: float | None = None) -> None:
    ratio = ours / base
    verdict = ""
    if target is not None:
        verdict = f"  (target <= {target}: {'met' if ratio <= target else 'MISSED'})"
    print(
        f"  {label:<44} {ours * 1000:8.1f} ms vs {base * 1000:8.1f} ms: ratio {ratio:5.2f}{verdict}"
    )


def parse_only(blobs: Sequence[bytes]) -> int:
    documents = 0
    for blob in blobs:
        with contextlib.suppress(yaml.YAMLError, ValueError):
            documents += sum(1 for _ in yaml.load_all(blob, Loader=yaml.CSafeLoader))
    return documents


def read_all(paths: Sequence[str]) -> list[bytes]:
    out = []
    for path in paths:
        with open(path, "rb") as fh:
            out.append(fh.read())
    return out


def corpus_in_process(files: list[str], engine: Engine, repeat: int) -> None:
    print(f"corpus, in process ({len(files)} files, best of {repeat}):")
    blobs = read_all(files)
    pairs = list(zip(files, blobs, strict=True))
    report(
        "from memory: lint_file vs load_all",
        best(lambda: [lint.lint_file(p, engine, b) for p, b in pairs], repeat),
        best(lambda: parse_only(blobs), repeat),
        TARGET_CORPUS,
    )
    from_disk = best(lambda: parse_only(read_all(files)), repeat)
    report(
        "from disk: lint_file vs load_all",
        best(lambda: [lint.lint_file(p, engine) for p in files], repeat),
        from_disk,
        TARGET_CORPUS,
    )
    report(
        "from disk: lint_many (all cores) vs load_all",
        best(lambda: runner.lint_many(files, engine), repeat),
        from_disk,
        TARGET_CORPUS,
    )


def timed(argv: Sequence[str]) -> tuple[float, float]:
    """Wall and CPU seconds (user + system, with the processes it waited for) of a command."""
    start = time.perf_counter()
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV)
    _, _, usage = os.wait4(process.pid, 0)
    process.returncode = 0
    return time.perf_counter() - start, usage.ru_utime + usage.ru_stime


def best_timed(argv: Sequence[str], repeat: int) -> tuple[float, float]:
    """The best wall time and the best CPU time of `repeat` runs."""
    runs = [timed(argv) for _ in range(repeat)]
    return min(r[0] for r in runs), min(r[1] for r in runs)


def corpus_cli(corpus: Path, repeat: int) -> None:
    mllint = mllint_command()
    print(f"corpus, whole command lines (best of {repeat}):")
    base_wall, base_cpu = best_timed([sys.executable, "-c", BASELINE, str(corpus)], repeat)
    cpus: dict[str, float] = {}
    for label, argv in (
        ("mllint CORPUS", [mllint, str(corpus)]),
        ("mllint -j1 CORPUS", [mllint, "-j1", str(corpus)]),
    ):
        wall, cpus[label] = best_timed(argv, repeat)
        report(f"{label} vs python -c <load every file>", wall, base_wall, TARGET_CORPUS)
        report(f"{label}, CPU time", cpus[label], base_cpu, TARGET_CPU)
    if hasattr(os, "fork"):
        _, cores_cpu = best_timed([sys.executable, "-c", BASELINE_CORES, str(corpus)], repeat)
        print(
            f"  for scale: the same parse shared by one process per core, at once: CPU "
            f"{cores_cpu * 1000:.1f} ms, x{cores_cpu / base_cpu:.2f} of one process alone"
        )
        report("mllint CORPUS, CPU time vs that parse", cpus["mllint CORPUS"], cores_cpu)


def cold_start(work: Path, repeat: int) -> None:
    small = work / "small.yaml"
    small.write_text(manifest(0), encoding="utf-8")
    mllint = mllint_command()
    print(f"cold start on one small file (best of {repeat * 2}):")
    report(
        "mllint small.yaml vs python -c 'import yaml'",
        best(lambda: run_quiet([mllint, str(small)]), repeat * 2),
        best(lambda: run_quiet([sys.executable, "-c", "import yaml"]), repeat * 2),
        TARGET_COLD,
    )
    # CPU time is steadier than wall time on a shared machine: medians of alternating runs.
    ours_cpu, base_cpu = [], []
    for _ in range(repeat * 4):
        ours_cpu.append(timed([mllint, str(small)])[1])
        base_cpu.append(timed([sys.executable, "-c", "import yaml"])[1])
    report(
        f"CPU time, medians of {repeat * 4} alternating runs",
        statistics.median(ours_cpu),
        statistics.median(base_cpu),
        TARGET_COLD,
    )
    bare = best(lambda: run_quiet([sys.executable, "-c", "pass"]), repeat * 2)
    print(f"  for scale: python -c pass {bare * 1000:.1f} ms")
    out = subprocess.run(
        [sys.executable, "-c", IMPORTS, str(small)], capture_output=True, text=True, check=True
    )
    packages = json.loads(out.stdout.splitlines()[-1])
    heavy = sorted(set(packages) & set(HEAVY))
    print(f"  third-party packages imported to lint a file: {', '.join(packages)}")
    print(f"  heavy packages among them: {', '.join(heavy) or 'none'}")
    timing = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", IMPORTS, str(small)],
        capture_output=True,
        text=True,
        check=True,
        env=ENV,
    )
    print("  slowest top-level imports (cumulative):")
    for micros, name in top_imports(timing.stderr, 6):
        print(f"    {micros / 1000:7.1f} ms  {name}")


def top_imports(stderr: str, count: int) -> list[tuple[int, str]]:
    """Top-level entries of `-X importtime` (those imported by the script itself)."""
    rows = []
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _, cumulative, name = line[len("import time:") :].split("|")
        if not name.startswith("  "):  # one space: imported directly, not by another module
            rows.append((int(cumulative), name.strip()))
    return sorted(rows, reverse=True)[:count]


def manifest(i: int) -> str:
    """One of a few realistic ML manifests, varied by i so documents are not all alike."""
    shape = i % 4
    name = f"model-{i}"
    if shape == 0:
        return f"""apiVersion: batch/v1
kind: Job
metadata:
  name: train-{name}
  namespace: ml
  labels: {{app.kubernetes.io/name: trainer, team: research}}
spec:
  backoffLimit: 2
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: trainer
          image: ghcr.io/example/trainer:1.{i % 9}.0
          args: ["--epochs", "{i % 50}", "--lr", "0.001"]
          env:
            - {{name: DATA_DIR, value: /data}}
            - {{name: CHECKPOINTS, value: /ckpt/{name}}}
          resources:
            requests: {{cpu: "4", memory: 16Gi}}
            limits: {{memory: 16Gi, nvidia.com/gpu: {1 + i % 4}}}
          volumeMounts:
            - {{name: data, mountPath: /data}}
      volumes:
        - name: data
          persistentVolumeClaim: {{claimName: datasets}}
"""
    if shape == 1:
        return f"""apiVersion: apps/v1
kind: Deployment
metadata:
  name: serve-{name}
  namespace: ml
spec:
  replicas: 2
  selector:
    matchLabels: {{app: serve-{name}}}
  template:
    metadata:
      labels: {{app: serve-{name}}}
    spec:
      containers:
        - name: server
          image: vllm/vllm-openai:latest
          ports: [{{containerPort: 8000, name: http}}]
          readinessProbe:
            httpGet: {{path: /health, port: http}}
          resources:
            limits: {{nvidia.com/gpu: 1}}
"""
    if shape == 2:
        return f"""apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: serve-{name}
  namespace: ml
spec:
  scaleTargetRef: {{apiVersion: apps/v1, kind: Deployment, name: serve-{name}}}
  minReplicas: 1
  maxReplicas: {2 + i % 8}
  metrics:
    - type: Resource
      resource:
        name: cpu
        target: {{type: Utilization, averageUtilization: 70}}
"""
    return f"""apiVersion: batch/v1
kind: CronJob
metadata:
  name: eval-{name}
spec:
  schedule: "{i % 60} 3 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers:
            - name: eval
              image: python:3.11
              command: ["python", "-m", "eval", "--model", "{name}"]
"""


def stream(count: int) -> bytes:
    return "---\n".join(manifest(i) for i in range(count)).encode()


def growth(engine: Engine, work: Path, repeat: int) -> None:
    n = 250
    small, large = stream(n), stream(4 * n)
    print(f"growth (best of {repeat}):")
    ours = best(lambda: lint.lint_file("n.yaml", engine, large), repeat) / best(
        lambda: lint.lint_file("n.yaml", engine, small), repeat
    )
    base = best(lambda: parse_only([large]), repeat) / best(lambda: parse_only([small]), repeat)
    print(f"  {n} -> {4 * n} documents in one stream: time x{ours:.2f} (load_all: x{base:.2f})")
    for count in (200, 2000):
        folder = work / f"files-{count}"
        folder.mkdir()
        for i in range(count):
            (folder / f"m{i:05}.yaml").write_text(manifest(i), encoding="utf-8")
    cores = str(len(os.sched_getaffinity(0)))
    for jobs in ("1", cores):
        rss = {}
        for count in (200, 2000):
            out = subprocess.run(
                [sys.executable, "-c", MEMORY, str(work / f"files-{count}"), jobs],
                capture_output=True,
                text=True,
                check=True,
            )
            rss[count] = [int(v) for v in out.stdout.split()]
        (self_s, kids_s), (self_l, kids_l) = rss[200], rss[2000]
        where = "one process" if jobs == "1" else "workers"
        line = f"  peak RSS, {where}: 200 files {self_s / 1024:.1f} MiB, 2000 files "
        line += f"{self_l / 1024:.1f} MiB: x{self_l / self_s:.2f}"
        if jobs != "1" and kids_s and kids_l:
            line += f"; largest worker {kids_s / 1024:.1f} -> {kids_l / 1024:.1f} MiB"
        print(line)


def parallel(engine: Engine, files: list[str], repeat: int) -> None:
    print(f"parallel runs (lint_many, {len(os.sched_getaffinity(0))} cores, best of {repeat}):")
    print(f"  workers start from {runner.PARALLEL_FROM_BYTES / 2**20:.1f} MiB of input")
    cores = len(os.sched_getaffinity(0))
    for count in (16, 64, 256, 1024, len(files)):
        some = files[:count]
        size = sum(os.path.getsize(p) for p in some) / 2**20
        one = best(lambda: runner.lint_many(some, engine, jobs=1), repeat)  # noqa: B023
        many = best(lambda: runner.lint_many(some, engine, jobs=cores), repeat)  # noqa: B023
        print(
            f"  {count:5} files, {size:5.2f} MiB: one process {one * 1000:7.1f} ms, "
            f"{cores} processes {many * 1000:7.1f} ms: ratio {many / one:5.2f}"
        )


def copies(corpus: Path, folder: Path, count: int) -> int:
    """`count` copies of the corpus's manifests under `folder` (hard links where possible)."""
    files = 0
    for source in sorted(corpus.rglob("*")):
        if not source.is_file() or source.suffix not in MANIFEST_SUFFIXES:
            continue
        relative = source.relative_to(corpus)
        for i in range(count):
            target = folder / f"copy-{i:03}" / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(source, target)
            except OSError:
                shutil.copyfile(source, target)
            files += 1
    return files


def scale(corpus: Path, work: Path, repeat: int) -> None:
    mllint = mllint_command()
    rounds = max(1, repeat // 2)
    print(f"scale: the corpus copied into many folders (best of {rounds}; growth against x1)")
    measured: dict[int, tuple[float, float, int, int]] = {}
    for factor in (1, *SCALES):
        folder = work / f"scale-{factor}"
        files = copies(corpus, folder, factor)
        wall, cpu = best_timed([mllint, str(folder), "--format", "json", "-o", os.devnull], rounds)
        out = subprocess.run(
            [sys.executable, "-c", MEMORY, str(folder), str(len(os.sched_getaffinity(0)))],
            capture_output=True,
            text=True,
            check=True,
            env=ENV,
        )
        own, workers = (int(v) for v in out.stdout.split()[-2:])
        measured[factor] = (wall, cpu, own, workers)
        wall_1, cpu_1, own_1, workers_1 = measured[1]
        line = (
            f"  x{factor:<3} {files:6} files: {wall:6.2f} s (x{wall / wall_1:5.1f}), "
            f"CPU {cpu:6.2f} s (x{cpu / cpu_1:5.1f}); peak RSS {own / 1024:5.1f} MiB "
            f"(x{own / own_1:4.2f})"
        )
        if workers and workers_1:
            line += f", largest worker {workers / 1024:5.1f} MiB (x{workers / workers_1:4.2f})"
        print(line)
        shutil.rmtree(folder)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="repetitions; the best counts")
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--no-scale", action="store_true", help="skip the 10x and 50x corpus")
    parser.add_argument(
        "--only",
        choices=("cold", "command"),
        help="run one section: cold (the start-up of a run on one small file), command (the "
        "corpus linted by whole command lines)",
    )
    args = parser.parse_args()
    if args.only == "command":
        if args.corpus.is_dir():
            corpus_cli(args.corpus, args.repeat)
        else:
            print(f"corpus: skipped, {args.corpus} is absent (it is ../shared/corpus)")
        return 0
    if args.only == "cold":
        with tempfile.TemporaryDirectory(prefix="mllint-bench-") as tmp:
            cold_start(Path(tmp), args.repeat)
        return 0
    engine = Engine()
    with tempfile.TemporaryDirectory(prefix="mllint-bench-") as tmp:
        work = Path(tmp)
        files: list[str] = []
        if args.corpus.is_dir():
            files = list(discover.discover([str(args.corpus)], Excluder((), str(args.corpus))))
            corpus_in_process(files, engine, args.repeat)
            corpus_cli(args.corpus, args.repeat)
        else:
            print(f"corpus: skipped, {args.corpus} is absent (it is ../shared/corpus)")
        cold_start(work, args.repeat)
        growth(engine, work, args.repeat)
        parallel(engine, files or sorted(map(str, (work / "files-2000").iterdir())), args.repeat)
        if args.corpus.is_dir() and not args.no_scale:
            scale(args.corpus, work, args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
