"""A run's report is written as it is read back: the same bytes as the whole run formatted at
once, whether one process or several linted it and whether its findings stayed in memory or
went to a temporary file."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from installed import named_pipe

from mllint.linter import configfile, discover, output, runner
from mllint.linter.discover import Excluder
from mllint.linter.lint import Located
from mllint.rules import REGISTRY, Engine
from mllint.rules.catalog import YAML_INVALID

Runner = Callable[..., subprocess.CompletedProcess[str]]

JOB = """apiVersion: batch/v1
kind: Job
metadata:
  name: train-{i}
spec:
  template:
    spec:
      restartPolicy: OnFailure
      containers:
        - name: trainer
          image: ghcr.io/example/trainer:latest
          resources:
            requests: {{nvidia.com/gpu: 1}}
"""

SERVER = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: serve-{i}
spec:
  replicas: 2
  selector:
    matchLabels: {{app: serve-{i}}}
  template:
    metadata:
      labels: {{app: serve-{i}}}
    spec:
      containers:
        - name: server
          image: vllm/vllm-openai:v0.6.0
          resources:
            limits: {{nvidia.com/gpu: 1}}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: serve-{i}
spec:
  scaleTargetRef: {{apiVersion: apps/v1, kind: Deployment, name: serve-{i}}}
  minReplicas: 1
  maxReplicas: 4
"""


def _tree(root: Path, files: int, jobs_per_file: int) -> None:
    """Files of many Jobs in nested folders, and model servers with autoscalers (whole-set
    findings), some in a folder above others."""
    for f in range(files):
        folder = root / f"team-{f % 3}" / ("nested" if f % 2 else "")
        folder.mkdir(parents=True, exist_ok=True)
        docs = [JOB.format(i=f * 1000 + i) for i in range(jobs_per_file)]
        docs.append(SERVER.format(i=f))
        (folder / f"m{f:03}.yaml").write_text("---\n".join(docs), encoding="utf-8")


def _whole(root: str, fmt: str, *more: str) -> str:
    """The report of `root` (and `more` paths) built the other way: every report gathered,
    sorted and formatted at once."""
    paths = list(discover.discover([root, *more], Excluder((), os.path.abspath(root))))
    engine = Engine()
    reports = runner.lint_many(paths, engine, jobs=1)
    run = output.Run.of(reports, {r.path: engine.config.fail_on for r in reports}, REGISTRY.rules)
    return output.FORMATS[fmt](run, False)


TEAM_RULES = """\
custom-rules:
  - name: image-registry-not-allowed
    code: X101
    summary: Image pulled from outside the internal registry
    scope: container
    condition: "!container.image.startsWith('registry.acme.io/')"
    message: "'container ' + container.name + ' runs ' + container.image"
    docs: "## What it does\\nFlags images from outside registry.acme.io."
  - name: gpu-pod-unlabelled
    code: X102
    severity: warning
    summary: GPU pod without a team label
    scope: pod
    condition: "workload.usesAccelerators && !('team' in object.metadata.labels)"
    message: "'a ' + workload.kind + ' with GPUs has no team label'"
"""


def _whole_by_config(root: str, fmt: str) -> str:
    """`_whole` with each file's nearest configuration: the run's rules are the built-in ones
    and every configuration's team rules."""
    configs = configfile.Configs(None, lambda config: config)
    groups: dict[str | None, tuple[configfile.LoadedConfig, list[str]]] = {}
    for path in discover.discover([root], Excluder((), os.path.abspath(root))):
        loaded = configs.of_file(path)
        groups.setdefault(loaded.source, (loaded, []))[1].append(path)
    reports = []
    rules = {r.code: r for r in REGISTRY.rules}
    fail_on = {}
    for loaded, paths in groups.values():
        engine = Engine(loaded.config)
        rules |= {r.code: r for r in engine.registry.rules}
        reports += runner.lint_many(paths, engine, jobs=1)
        fail_on |= dict.fromkeys(paths, engine.config.fail_on)
    reports.sort(key=lambda r: r.path)
    run = output.Run.of(reports, fail_on, tuple(rules.values()))
    return output.FORMATS[fmt](run, False)


@pytest.mark.parametrize("fmt", ["json", "sarif"])
def test_team_rules_stream_with_workers_as_with_one_process(
    mllint: Runner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    """Worker processes build each configuration's team rules as this process does: the
    report of `-j 2` is that of `-j 1` and of the run formatted whole."""
    _tree(tmp_path / "tree", files=30, jobs_per_file=3)
    (tmp_path / "tree" / "team-1" / ".mllint.yaml").write_text(TEAM_RULES, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    expected = _whole_by_config("tree", fmt)
    serial = mllint("--format", fmt, "-j", "1", "tree")
    parallel = mllint("--format", fmt, "-j", "2", "tree")
    assert serial.returncode == parallel.returncode == 1, parallel.stderr
    assert serial.stdout == expected
    assert parallel.stdout == expected
    data = json.loads(parallel.stdout)
    if fmt == "json":
        team = [f for f in data["findings"] if f["code"].startswith("X")]
        assert {f["code"] for f in team} == {"X101", "X102"}
        assert all(Path(f["file"]).parts[1] == "team-1" for f in team)
        described = {r["code"]: r for r in data["rules"]}
        assert described["X101"]["origin"] == "configuration"
        assert "Flags images from outside registry.acme.io." in described["X101"]["docs"]
        assert list(data) == ["findings", "summary", "rules"]
    else:
        driver = data["runs"][0]["tool"]["driver"]
        team = {r["id"]: r for r in driver["rules"] if r["id"].startswith("X")}
        assert set(team) == {"X101", "X102"}
        assert "team" in team["X101"]["properties"]["tags"]
        results = data["runs"][0]["results"]
        assert {r["ruleId"] for r in results if r["ruleId"].startswith("X")} == {"X101", "X102"}


def test_a_team_rule_error_with_workers_is_a_configuration_error(
    mllint: Runner, tmp_path: Path
) -> None:
    _tree(tmp_path / "tree", files=4, jobs_per_file=1)
    config = tmp_path / "tree" / ".mllint.yaml"
    config.write_text(TEAM_RULES.replace("container.image.startsWith", "containr.image.startsWith"))
    for jobs in ("1", "2"):
        result = mllint("-j", jobs, "tree")
        assert result.returncode == 2, result.stderr
        assert "Traceback" not in result.stderr
        assert (
            "tree/.mllint.yaml: custom-rules[0] (image-registry-not-allowed): condition:1:2: "
            "undeclared reference to 'containr'"
        ) in result.stderr


@pytest.mark.parametrize("fmt", sorted(output.FORMATS))
def test_a_streamed_report_is_the_whole_report(
    mllint: Runner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    _tree(tmp_path / "tree", files=30, jobs_per_file=3)
    monkeypatch.chdir(tmp_path)
    expected = _whole("tree", fmt)
    serial = mllint("--format", fmt, "-j", "1", "tree")
    parallel = mllint("--format", fmt, "-j", "2", "tree")
    assert serial.returncode == parallel.returncode == 1
    assert serial.stdout == expected
    assert parallel.stdout == expected
    assert any(r.whole_set and r.name in expected for r in REGISTRY.rules)


def test_a_run_with_more_findings_than_memory_holds_reports_them_all(
    mllint: Runner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past SPILL_AFTER findings the spool moves them to a temporary file; the report and the
    summary are those of the run gathered whole."""
    _tree(tmp_path / "tree", files=36, jobs_per_file=40)
    monkeypatch.chdir(tmp_path)
    expected = _whole("tree", "json")
    assert expected.count('"rule": ') > runner.SPILL_AFTER
    for jobs in ("1", "2"):
        result = mllint("--format", "json", "-j", jobs, "tree")
        assert result.returncode == 1
        assert result.stdout == expected


def test_the_output_file_is_replaced_whole_and_keeps_its_mode(
    mllint: Runner, tmp_path: Path
) -> None:
    _tree(tmp_path / "tree", files=2, jobs_per_file=2)
    target = tmp_path / "out" / "report.sarif"
    target.parent.mkdir()
    target.write_text("an older report\n", encoding="utf-8")
    target.chmod(0o640)
    shown = mllint("--format", "sarif", "tree")
    written = mllint("--format", "sarif", "-o", "out/report.sarif", "tree")
    assert written.returncode == shown.returncode == 1
    assert written.stdout == ""
    assert target.read_text(encoding="utf-8") == shown.stdout
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert sorted(p.name for p in target.parent.iterdir()) == ["report.sarif"]


def test_an_output_file_that_cannot_be_written_is_a_usage_error(
    mllint: Runner, tmp_path: Path
) -> None:
    _tree(tmp_path / "tree", files=1, jobs_per_file=1)
    result = mllint("-o", "missing/report.txt", "tree")
    assert result.returncode == 2
    assert "--output missing/report.txt: cannot write" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_output_that_is_a_pipe_is_written_to_not_replaced(
    mllint: Runner, tmp_path: Path
) -> None:
    """`-o /dev/null` or a named pipe: renaming over it would put a regular file in its place."""
    _tree(tmp_path / "tree", files=1, jobs_per_file=1)
    with named_pipe(tmp_path) as (pipe, received):
        result = mllint("--format", "json", "-o", str(pipe), "tree")
        assert result.returncode == 1, result.stderr
        assert received() == mllint("--format", "json", "tree").stdout
    assert stat.S_ISFIFO(pipe.stat().st_mode)


HPA = """apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {name}
spec:
  scaleTargetRef: {{apiVersion: apps/v1, kind: Deployment, name: {target}}}
  minReplicas: 1
  maxReplicas: 4
"""


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _related_across_folders(tree: Path) -> None:
    """`_tree`, and objects related across folders: an autoscaler in a folder above the
    Deployment it scales, with folders between; beside it a folder whose name sorts between
    the first folder's files and its subfolders' (`up-beside` < `up/`) with a Deployment of the
    same name, which no autoscaler of its set scales."""
    _tree(tree, files=30, jobs_per_file=1)
    server = SERVER.format(i="x").split("---")[0]
    _write(tree / "up" / "hpa.yaml", HPA.format(name="serve-x", target="serve-x"))
    _write(tree / "up" / "down" / "deeper" / "serve.yaml", server)
    _write(tree / "up" / "down" / "other" / "job.yaml", JOB.format(i=1))
    _write(tree / "up-beside" / "serve.yaml", server)


@pytest.mark.parametrize(
    "paths",
    [
        ["tree"],
        ["tree/up", "tree/up-beside", "tree/team-0"],
        ["tree/up/hpa.yaml", "tree/up/down"],
        ["tree", "tree/up"],
    ],
    ids=["one folder", "folders side by side", "a file above a folder", "a folder twice"],
)
def test_whole_set_findings_across_folders_as_in_the_run_judged_whole(
    mllint: Runner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, paths: list[str]
) -> None:
    """A run judges a folder's whole-set rules once it has left the folder and forgets their
    summaries: the findings are those of the run judged at its end, across files and folders,
    with workers or without, however the paths name the folders."""
    _related_across_folders(tmp_path / "tree")
    monkeypatch.chdir(tmp_path)
    expected = _whole(paths[0], "json", *paths[1:])
    found = {(f["code"], f["file"]) for f in json.loads(expected)["findings"]}
    assert ("ML802", "tree/up/down/deeper/serve.yaml") in found
    assert ("ML802", "tree/up-beside/serve.yaml") not in found
    for jobs in ("1", "2"):
        result = mllint("--format", "json", "-j", jobs, *paths)
        assert result.returncode == 1, result.stderr
        assert result.stdout == expected


def test_stdin_and_folders_are_judged_apart(mllint: Runner, tmp_path: Path) -> None:
    _related_across_folders(tmp_path / "tree")
    stdin = HPA.format(name="serve-x", target="serve-x") + "---\n" + SERVER.format(i="x")

    def found(*paths: str) -> set[tuple[str, str, int]]:
        result = mllint("--format", "json", "-j", "2", *paths, stdin=stdin)
        assert result.returncode == 1, result.stderr
        return {(f["code"], f["file"], f["line"]) for f in json.loads(result.stdout)["findings"]}

    both = found("tree/up", "-", "tree/team-1")
    assert ("ML802", "<stdin>", 15) in both
    assert both == found("-") | found("tree/up") | found("tree/team-1")


def test_a_run_keeps_the_summaries_of_the_folders_it_is_in(tmp_path: Path) -> None:
    """Objects of sibling folders are never related: a run lets go of a folder's whole-set
    summaries once it has left it, so it holds those of about one batch of files, not of
    every object it read; the findings are all there."""
    for i in range(60):
        _write(tmp_path / f"team-{i:02}" / "serve.yaml", SERVER.format(i=i))
        _write(tmp_path / f"team-{i:02}" / "jobs" / "job.yaml", JOB.format(i=i))
    paths = [str(tmp_path)]
    engine = Engine()
    held = {}
    for by_folder in (True, False):
        gathered = runner.Gathered(by_folder=by_folder)
        run = runner.Runner(1, engine.today, {0: engine})
        most = 0
        for done in run.run(
            runner.batches(
                (0, engine.config, p) for p in discover.discover(paths, Excluder((), str(tmp_path)))
            )
        ):
            gathered.add(done, engine)
            most = max(most, len(gathered.collectors[0].sets))
        gathered.set_findings()
        held[by_folder] = most
        assert sum(f.finding.code == "ML802" for f in gathered.spool.each()) == 60
    assert held == {True: held[True], False: 120}
    assert held[True] <= runner.BATCH_FILES + 1


def test_a_walk_gives_each_folder_whole(tmp_path: Path) -> None:
    """What settling a folder once the run has left it rests on: a walk finds a folder's own
    files before its subfolders', and every file below a folder one after the other."""
    for name in (
        "a.yaml",
        "a-b/x.yaml",
        "a/y.yaml",
        "a/b/z.yaml",
        "a/c.yaml",
        "a.b/w.yaml",
        "b.yaml",
    ):
        _write(tmp_path / name, JOB.format(i=1))
    found = [
        os.path.relpath(p, tmp_path)
        for p in discover.discover([str(tmp_path)], Excluder((), str(tmp_path)))
    ]
    assert sorted(found) != found  # a walk's order, not the report's
    for folder in {os.path.dirname(p) for p in found}:
        inside = [i for i, p in enumerate(found) if p.startswith(folder + "/") or not folder]
        assert inside == list(range(inside[0], inside[-1] + 1))
        own = [i for i, p in enumerate(found) if os.path.dirname(p) == folder]
        assert own == inside[: len(own)]
    assert discover.folder_by_folder([str(tmp_path)])


@pytest.mark.parametrize(
    ("paths", "expected"),
    [
        (["."], True),
        (["a", "a-b"], True),
        (["a/y.yaml", "a-b"], True),
        (["-", "a"], True),
        (["a", "a/b"], False),
        (["a/b", "."], False),
        (["a/y.yaml", "a/c.yaml"], False),
        (["a/y.yaml", "a/b"], False),
        (["a", "b.yaml"], False),
        (["a", "a"], False),
        (["-", "-"], False),
    ],
)
def test_paths_that_are_walked_folder_by_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, paths: list[str], expected: bool
) -> None:
    for name in ("a/y.yaml", "a/b/z.yaml", "a/c.yaml", "a-b/x.yaml", "b.yaml"):
        _write(tmp_path / name, JOB.format(i=1))
    monkeypatch.chdir(tmp_path)
    assert discover.folder_by_folder(paths) is expected


def test_the_spool_reads_back_every_file_in_order_whatever_it_wrote_out(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Findings past SPILL_AFTER and index entries past INDEX_HELD go to the temporary file:
    read back, each file's findings are those added, in the order added, files by path."""
    monkeypatch.setattr(runner, "SPILL_AFTER", 5)
    monkeypatch.setattr(runner, "INDEX_HELD", 3)
    finding = Engine().meta_finding(YAML_INVALID, "invalid")
    assert finding is not None
    spool = runner.Spool()
    added: dict[str, list[Located]] = {}
    for step in range(40):
        path = f"f/{(step * 7) % 11}.yaml" if step % 5 else "f/a/0.yaml"
        found = [Located(finding, path, line, 1) for line in (step + 2, step + 1)]
        spool.add(path, found)
        added.setdefault(path, []).extend(found)
    expected = [
        located
        for path in sorted(added)
        for located in sorted(added[path], key=lambda f: (f.line, f.column))
    ]
    assert list(spool.each()) == expected
    assert list(spool.each()) == expected
    spool.close()


@pytest.mark.parametrize("jobs", [("-j", "3"), ()])
def test_a_run_with_more_workers_and_with_the_default_reports_what_one_process_does(
    mllint: Runner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, jobs: tuple[str, ...]
) -> None:
    """Several workers beside the run's own process (or as many as there are cores) share the
    batches; the report and the exit code are those of `-j 1`."""
    _tree(tmp_path / "tree", files=150, jobs_per_file=3)
    _related_across_folders(tmp_path / "tree")
    monkeypatch.chdir(tmp_path)
    for fmt in ("json", "text"):
        serial = mllint("--format", fmt, "-j", "1", "tree")
        parallel = mllint("--format", fmt, *jobs, "tree")
        assert serial.returncode == parallel.returncode == 1, parallel.stderr
        assert parallel.stdout == serial.stdout
        assert parallel.stderr == serial.stderr


def test_workers_started_afresh_report_what_one_process_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where workers are not forked (macOS), multiprocessing starts them afresh: same reports."""
    _tree(tmp_path / "tree", files=40, jobs_per_file=2)
    monkeypatch.chdir(tmp_path)
    paths = list(discover.discover(["tree"], Excluder((), os.path.abspath("tree"))))
    serial = runner.lint_many(paths, Engine(), jobs=1)
    monkeypatch.setattr(runner, "FORK", False)
    spawned = runner.lint_many(paths, Engine(), jobs=2)
    assert spawned == serial
    assert sum(len(r.findings) for r in spawned) > len(paths)


def _processes_where(field: int, value: int) -> list[int]:
    """Processes whose /proc stat field (after the command's name: 1 parent, 2 process group)
    equals `value`."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat_line = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat_line.rsplit(")", 1)[1].split()[field]) == value:
                found.append(int(entry))
    return found


def _children(pid: int) -> list[int]:
    return _processes_where(1, pid)


def _in_group(group: int) -> list[int]:
    return _processes_where(2, group)


def _stuck_reading(pipe: Path, process: subprocess.Popen[str]) -> int:
    """Wait until a process has the named pipe open to read it, and keep it waiting there: the
    writer's end this returns stays open and is never written to."""
    for _ in range(3000):
        try:
            return os.open(pipe, os.O_WRONLY | os.O_NONBLOCK)
        except OSError:  # ENXIO: nobody reads it yet
            assert process.poll() is None, process.communicate()
            time.sleep(0.01)
    raise AssertionError("nobody opened the named pipe")


needs_proc = pytest.mark.skipif(
    not Path("/proc/self/stat").exists(), reason="finds worker processes through /proc"
)


@needs_proc
def test_a_worker_killed_mid_run_loses_its_files_with_a_message_and_the_run_goes_on(
    mllint_exe: str, mllint: Runner, tmp_path: Path
) -> None:
    """The worker given the first batch is stuck reading a named pipe when it is killed (as the
    out-of-memory killer would): its files are reported not linted (exit code 1), and the
    other files are linted as `-j 1` lints them."""
    _tree(tmp_path / "tree", files=60, jobs_per_file=2)
    expected = json.loads(mllint("--format", "json", "-j", "1", "tree").stdout)
    os.mkfifo(tmp_path / "stuck.yaml")
    process = subprocess.Popen(
        [mllint_exe, "--format", "json", "-j", "2", "stuck.yaml", "tree"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    writer = _stuck_reading(tmp_path / "stuck.yaml", process)
    try:
        (worker,) = _children(process.pid)
        os.kill(worker, signal.SIGKILL)
        stdout, stderr = process.communicate(timeout=120)
    finally:
        os.close(writer)
        if process.poll() is None:
            process.kill()
    assert process.returncode == 1, stderr
    assert "Traceback" not in stderr
    report = json.loads(stdout)
    lost = {
        f["file"]
        for f in report["findings"]
        if f["code"] == YAML_INVALID.code and "worker process" in f["message"]
    }
    assert "stuck.yaml" in lost
    assert len(lost) <= 2 * runner.BATCH_FILES  # what the worker held, no more
    assert report["summary"]["files"] == expected["summary"]["files"] + 1
    assert report["summary"]["unreadable_files"] == len(lost)
    kept = [f for f in report["findings"] if f["file"] not in lost]
    assert kept == [f for f in expected["findings"] if f["file"] not in lost]
    assert _children(process.pid) == []


@needs_proc
@pytest.mark.parametrize("jobs", ["1", "2"])
def test_ctrl_c_ends_the_run_and_its_workers_with_exit_code_130(
    mllint_exe: str, tmp_path: Path, jobs: str
) -> None:
    """Ctrl-C (SIGINT to the terminal's process group) while a file is being read: exit code
    130, no traceback, no process of the run left."""
    _tree(tmp_path / "tree", files=40, jobs_per_file=1)
    os.mkfifo(tmp_path / "stuck.yaml")
    process = subprocess.Popen(
        [mllint_exe, "-j", jobs, "stuck.yaml", "tree"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    writer = _stuck_reading(tmp_path / "stuck.yaml", process)
    try:
        workers = _children(process.pid)
        assert len(workers) == int(jobs) - 1
        os.killpg(process.pid, signal.SIGINT)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        os.close(writer)
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130
    assert "Traceback" not in stderr
    assert stdout == ""
    assert _in_group(process.pid) == []


@pytest.mark.parametrize("jobs", [2, 3])
def test_batches_come_out_in_the_order_found_whoever_lints_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, jobs: int
) -> None:
    """Workers are topped up while this process lints a batch: what they are given then comes
    after that batch, as the walk found it (folders are settled in that order)."""
    _tree(tmp_path / "tree", files=300, jobs_per_file=1)
    monkeypatch.setattr(runner, "BATCH_FILES", 3)
    paths = list(discover.discover([str(tmp_path / "tree")], Excluder((), str(tmp_path))))
    engine = Engine()
    work = list(runner.batches((0, engine.config, p) for p in paths))
    assert len(work) == 100
    done = list(runner.Runner(jobs, engine.today, {0: engine}).run(work))
    assert [d.batch.paths for d in done] == [b.paths for b in work]
    assert [r.path for d in done for r in d.reports] == paths


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_reader_that_goes_away_ends_the_run_quietly_with_exit_code_141(
    mllint_exe: str, tmp_path: Path, jobs: str
) -> None:
    """`mllint . | head -1`: the report's reader closes the pipe after one line. The run ends
    with the status of a command stopped by SIGPIPE, without a traceback or a word on stderr."""
    _tree(tmp_path / "tree", files=120, jobs_per_file=3)
    process = subprocess.Popen(
        [mllint_exe, "-j", jobs, "tree"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    first = process.stdout.readline()
    process.stdout.close()
    stderr = process.stderr.read()
    assert process.wait(timeout=60) == 141
    assert b"tree/" in first
    assert stderr == b""
