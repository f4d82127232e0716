"""`mllint --fix`, `--unsafe-fixes` and `--diff`, run as the installed command on real files.

gpu-not-in-limits (ML101, safe fix) is the rule under test; job-active-deadline-missing
(ML203, unsafe fix) shows the gating of unsafe fixes. Runs select rules explicitly so that
results do not change as the catalog grows. The last tests call the pure text transformation
(`apply_edits`) with operations from outside the engine, as whole-set rules will give them.
"""

from __future__ import annotations

import difflib
import json
import os
import shutil
import stat
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from mllint.linter.fix import Edit, apply_edits

Runner = Callable[..., subprocess.CompletedProcess[str]]

ML101 = ("--select", "ML101")
LIMITS = "            limits:\n              nvidia.com/gpu: 1\n"

# Lines ruamel.yaml would rewrite if it wrote the whole document: extra spaces after a colon
# or inside flow collections, `~` for null, a single-quoted string. They must come out as they are.
JOB_INDENTED = """\
# Fine-tuning job: one GPU.
apiVersion: batch/v1
kind: Job
metadata:
  name: 'bert-finetune'   # single-quoted on purpose
  labels: {team: nlp,  tier: "gold"}
spec:
  backoffLimit:   2
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: trainer
          image: "nvcr.io/nvidia/pytorch:24.08-py3"
          args: [ "--epochs",   "3" ]
          env:
            - name: EMPTY
              value: ~
          resources:
            requests:
              cpu: "8"
              nvidia.com/gpu: 1  # one GPU
          # the sidecar follows
        - name: logger
          image: busybox:1.36
"""
JOB_INDENTED_FIXED = JOB_INDENTED.replace(
    "              nvidia.com/gpu: 1  # one GPU\n",
    "              nvidia.com/gpu: 1  # one GPU\n" + LIMITS,
)

# kubectl's style: sequence items at the column of their key.
JOB_INDENTLESS = """\
apiVersion: batch/v1
kind: Job
metadata:
  name: train
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: trainer
        image: pytorch/pytorch:2.3.0
        env:
        - {name: A, value: "1"}
        resources:
          requests:
            nvidia.com/gpu: 1

      - name: logger
        image: busybox:1.36
"""
JOB_INDENTLESS_FIXED = JOB_INDENTLESS.replace(
    "            nvidia.com/gpu: 1\n",
    "            nvidia.com/gpu: 1\n          limits:\n            nvidia.com/gpu: 1\n",
)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("utf-8"))
    return path


def read(path: Path) -> str:
    return path.read_bytes().decode("utf-8")


def report(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(result.stdout)
    return data


@pytest.fixture
def writable(tmp_path: Path) -> Iterator[None]:
    """Give back write permission on everything under tmp_path, so pytest can clean up."""
    yield
    for root, dirs, files in os.walk(tmp_path):
        for name in dirs + files:
            path = Path(root, name)
            if not path.is_symlink():
                path.chmod(path.stat().st_mode | stat.S_IWUSR)
    tmp_path.chmod(tmp_path.stat().st_mode | stat.S_IWUSR)


# --- what --fix writes -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("original", "fixed"),
    [(JOB_INDENTED, JOB_INDENTED_FIXED), (JOB_INDENTLESS, JOB_INDENTLESS_FIXED)],
    ids=["sequence-indented", "sequence-indentless"],
)
def test_fix_changes_only_what_it_fixes(
    mllint: Runner, tmp_path: Path, original: str, fixed: str
) -> None:
    """Comments, quoting, key order, spacing and both sequence styles are kept; the new
    mapping is in block style, in the document's indentation, above the comment that belongs
    to the next item."""
    path = write(tmp_path / "job.yaml", original)
    result = mllint(*ML101, "--fix", "job.yaml")
    assert read(path) == fixed
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == "No findings in 1 file, 1 object; fixed 1 file.\n"
    assert result.stderr == ""


def test_second_fix_changes_nothing(mllint: Runner, tmp_path: Path) -> None:
    path = write(tmp_path / "job.yaml", JOB_INDENTED)
    assert mllint(*ML101, "--fix", "job.yaml").returncode == 0
    first = path.read_bytes()
    again = mllint(*ML101, "--fix", "job.yaml")
    assert path.read_bytes() == first
    assert again.returncode == 0
    assert again.stdout == "No findings in 1 file, 1 object.\n"
    assert mllint(*ML101, "--diff", "job.yaml").stdout == ""


def test_report_lists_what_remains_after_fixing(mllint: Runner, tmp_path: Path) -> None:
    """The fixable finding is gone; the one --fix cannot repair (an unsafe fix, not asked for)
    stays, placed on its line in the new text."""
    path = write(tmp_path / "job.yaml", JOB_INDENTLESS + "---\n" + JOB_INDENTLESS)
    result = mllint("--select", "ML101,ML203", "--fix", "--format", "json", "job.yaml")
    found = report(result)
    specs = [i for i, line in enumerate(read(path).splitlines(), 1) if line == "spec:"]
    assert specs == [5, len(JOB_INDENTLESS_FIXED.splitlines()) + 1 + 5]
    assert [(f["code"], f["line"]) for f in found["findings"]] == [("ML203", n) for n in specs]
    assert found["summary"]["fixed"] == 1
    assert result.returncode == 1


def test_untouched_documents_stay_byte_identical(mllint: Runner, tmp_path: Path) -> None:
    """Only the document with a fix is rewritten: the directive, separators, document end
    marker, comments and the other documents (one with four-space indentation) are kept."""
    before = (
        "%YAML 1.1\n"
        "# leading comment\n"
        "---\n"
        "apiVersion: v1\n"
        "kind: ConfigMap\n"
        "metadata: {name: settings}\n"
        "data:\n"
        '  flag:    "on"\n'
        "--- # the training job\n"
    )
    after = (
        "...\n"
        "---\n"
        "# a Service indented by four\n"
        "apiVersion: v1\n"
        "kind: Service\n"
        "metadata:\n"
        "    name: trainer\n"
        "spec:\n"
        "    ports:\n"
        "    -   port: 80\n"
        "\n"
        "# trailing comment\n"
    )
    path = write(tmp_path / "all.yaml", before + JOB_INDENTLESS + after)
    result = mllint(*ML101, "--fix", "all.yaml")
    assert read(path) == before + JOB_INDENTLESS_FIXED + after
    assert result.stdout == "No findings in 1 file, 3 objects; fixed 1 file.\n"


def test_items_of_a_list_are_fixed(mllint: Runner, tmp_path: Path) -> None:
    def item(name: str) -> str:
        return (
            "- apiVersion: batch/v1\n"
            "  kind: Job\n"
            f"  metadata: {{name: {name}}}\n"
            "  spec:\n"
            "    template:\n"
            "      spec:\n"
            "        restartPolicy: Never\n"
            "        containers:\n"
            "        - name: trainer\n"
            "          image: pytorch/pytorch:2.3.0\n"
            "          resources:\n"
            "            requests:\n"
            "              nvidia.com/gpu: 2\n"
        )

    limits = "            limits:\n              nvidia.com/gpu: 2\n"
    path = write(
        tmp_path / "list.yaml", "apiVersion: v1\nkind: List\nitems:\n" + item("a") + item("b")
    )
    result = mllint(*ML101, "--fix", "list.yaml")
    assert (
        read(path)
        == "apiVersion: v1\nkind: List\nitems:\n" + item("a") + limits + item("b") + limits
    )
    assert result.stdout == "No findings in 1 file, 2 objects; fixed 1 file.\n"


def _job_object(gpu: Any = 1) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "train", "labels": {"team": "nlp"}},
        "spec": {
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [
                        {
                            "name": "trainer",
                            "image": "pytorch/pytorch:2.3.0",
                            "args": ["--epochs", "3"],
                            "resources": {"requests": {"nvidia.com/gpu": gpu}},
                        }
                    ],
                }
            }
        },
    }


def _fixed_object(gpu: Any = 1) -> dict[str, Any]:
    obj = _job_object(gpu)
    resources = obj["spec"]["template"]["spec"]["containers"][0]["resources"]
    resources["limits"] = {"nvidia.com/gpu": gpu}
    return obj


@pytest.mark.parametrize("indent", [2, 4, "\t"], ids=["two", "four", "tab"])
def test_json_is_rewritten_as_json_in_its_indentation(
    mllint: Runner, tmp_path: Path, indent: int | str
) -> None:
    path = write(tmp_path / "job.json", json.dumps(_job_object(), indent=indent) + "\n")
    result = mllint(*ML101, "--fix", "job.json")
    assert read(path) == json.dumps(_fixed_object(), indent=indent) + "\n"
    assert result.stdout == "No findings in 1 file, 1 object; fixed 1 file.\n"


def test_json_lines_not_fixed_keep_their_layout(mllint: Runner, tmp_path: Path) -> None:
    """Inline arrays and objects that json.dumps would spread over lines stay as written."""
    text = (
        "{\n"
        '  "apiVersion": "batch/v1", "kind": "Job",\n'
        '  "metadata": {"name": "train", "labels": {"team": "nlp"}},\n'
        '  "spec": {\n'
        '    "template": {\n'
        '      "spec": {\n'
        '        "restartPolicy": "Never",\n'
        '        "containers": [\n'
        "          {\n"
        '            "name": "trainer", "image": "pytorch/pytorch:2.3.0",\n'
        '            "args": ["--epochs", "3"],\n'
        '            "resources": {\n'
        '              "requests": {\n'
        '                "nvidia.com/gpu": 1\n'
        "              }\n"
        "            }\n"
        "          }\n"
        "        ]\n"
        "      }\n"
        "    }\n"
        "  }\n"
        "}\n"
    )
    path = write(tmp_path / "job.json", text)
    assert mllint(*ML101, "--fix", "job.json").returncode == 0
    new = read(path)
    assert json.loads(new) == _fixed_object()
    assert list(json.loads(new)) == ["apiVersion", "kind", "metadata", "spec"]
    kept = [line for line in text.splitlines() if "}" not in line]
    assert all(line in new.splitlines() for line in kept)


def test_crlf_and_byte_order_mark_are_kept(mllint: Runner, tmp_path: Path) -> None:
    path = tmp_path / "job.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + JOB_INDENTLESS.replace("\n", "\r\n").encode())
    assert mllint(*ML101, "--fix", "job.yaml").returncode == 0
    expected = b"\xef\xbb\xbf" + JOB_INDENTLESS_FIXED.replace("\n", "\r\n").encode()
    assert path.read_bytes() == expected


def test_file_without_final_newline(mllint: Runner, tmp_path: Path) -> None:
    path = write(tmp_path / "job.yaml", JOB_INDENTED.rstrip("\n"))
    assert mllint(*ML101, "--fix", "job.yaml").returncode == 0
    assert read(path) == JOB_INDENTED_FIXED.rstrip("\n")


def test_last_block_scalar_keeps_its_value(mllint: Runner, tmp_path: Path) -> None:
    """A literal block that ends the file with no line break has no final newline; when the
    fix adds lines after it, it must say so (`|-`), or its value would change."""
    text = (
        "apiVersion: batch/v1\n"
        "kind: Job\n"
        "metadata: {name: train}\n"
        "spec:\n"
        "  template:\n"
        "    spec:\n"
        "      restartPolicy: Never\n"
        "      containers:\n"
        "      - name: trainer\n"
        "        image: pytorch/pytorch:2.3.0\n"
        "        resources:\n"
        "          requests: {nvidia.com/gpu: 1}\n"
        "        args:\n"
        "        - |\n"
        "          python train.py"
    )
    path = write(tmp_path / "job.yaml", text)
    assert mllint(*ML101, "--fix", "job.yaml").returncode == 0
    new = yaml.safe_load(read(path))
    container = new["spec"]["template"]["spec"]["containers"][0]
    assert container["args"] == ["python train.py"]
    assert container["resources"]["limits"] == {"nvidia.com/gpu": 1}


# --- --diff, stdin, unsafe fixes -------------------------------------------------------------


def test_diff_shows_the_fix_and_writes_nothing(mllint: Runner, tmp_path: Path) -> None:
    path = write(tmp_path / "job.yaml", JOB_INDENTED)
    before = path.stat()
    result = mllint(*ML101, "--diff", "job.yaml")
    assert path.read_bytes() == JOB_INDENTED.encode()
    assert path.stat().st_mtime_ns == before.st_mtime_ns
    expected = "".join(
        difflib.unified_diff(
            JOB_INDENTED.splitlines(keepends=True),
            JOB_INDENTED_FIXED.splitlines(keepends=True),
            "a/job.yaml",
            "b/job.yaml",
        )
    )
    assert result.stdout == expected
    assert result.stdout.startswith("--- a/job.yaml\n+++ b/job.yaml\n")
    # The report is a lint run's: the finding is there, and so is its exit code.
    assert "ML101" in result.stderr
    assert result.returncode == 1


@pytest.mark.skipif(shutil.which("patch") is None, reason="needs the patch command")
def test_diff_applies_with_patch(mllint: Runner, tmp_path: Path) -> None:
    """The diff is a real patch: applied with `patch -p1`, it gives what --fix writes."""
    write(tmp_path / "a" / "job.yaml", JOB_INDENTLESS)
    write(tmp_path / "b" / "job.yaml", JOB_INDENTLESS)
    diff = mllint(*ML101, "--diff", "job.yaml", cwd=tmp_path / "a").stdout
    subprocess.run(
        ["patch", "-p1", "--quiet"], input=diff, text=True, cwd=tmp_path / "a", check=True
    )
    mllint(*ML101, "--fix", "job.yaml", cwd=tmp_path / "b")
    assert (tmp_path / "a" / "job.yaml").read_bytes() == (tmp_path / "b" / "job.yaml").read_bytes()


def test_stdin_fix_writes_the_document_to_stdout(mllint: Runner) -> None:
    result = mllint(*ML101, "--fix", "-", stdin=JOB_INDENTED)
    assert result.stdout == JOB_INDENTED_FIXED
    assert result.stderr == "No findings in 1 file, 1 object; fixed 1 file.\n"
    assert result.returncode == 0


def test_stdin_json_by_its_name(mllint: Runner) -> None:
    text = json.dumps(_job_object(), indent=2)
    result = mllint(*ML101, "--fix", "--stdin-filename", "job.json", "-", stdin=text)
    assert result.stdout == json.dumps(_fixed_object(), indent=2)


def test_stdin_that_cannot_be_parsed_is_passed_through(mllint: Runner) -> None:
    broken = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\n labels: {}\n"
    result = mllint("--fix", "-", stdin=broken)
    assert result.stdout == broken
    assert "ML001" in result.stderr
    assert result.returncode == 1


def test_unsafe_fixes_only_when_asked(mllint: Runner, tmp_path: Path) -> None:
    path = write(tmp_path / "job.yaml", JOB_INDENTLESS)
    safe = mllint("--select", "ML203", "--fix", "--format", "json", "job.yaml")
    assert read(path) == JOB_INDENTLESS
    found = report(safe)
    assert [f["code"] for f in found["findings"]] == ["ML203"]
    assert found["summary"]["fixed"] == 0
    assert safe.returncode == 1

    unsafe = mllint("--select", "ML203", "--fix", "--unsafe-fixes", "job.yaml")
    assert read(path) == JOB_INDENTLESS + "  activeDeadlineSeconds: 86400\n"
    assert unsafe.returncode == 0


def test_unsafe_fixes_in_a_diff(mllint: Runner, tmp_path: Path) -> None:
    write(tmp_path / "job.yaml", JOB_INDENTLESS)
    assert mllint("--select", "ML203", "--diff", "job.yaml").stdout == ""
    diff = mllint("--select", "ML203", "--diff", "--unsafe-fixes", "job.yaml").stdout
    assert "+  activeDeadlineSeconds: 86400\n" in diff


# --- how files are written -------------------------------------------------------------------


def test_write_is_atomic_and_keeps_the_mode(mllint: Runner, tmp_path: Path) -> None:
    path = write(tmp_path / "jobs" / "job.yaml", JOB_INDENTED)
    path.chmod(0o640)
    assert mllint(*ML101, "--fix", "jobs").returncode == 0
    assert read(path) == JOB_INDENTED_FIXED
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert sorted(os.listdir(tmp_path / "jobs")) == ["job.yaml"]  # no temporary file left


def test_symlink_is_kept_and_its_target_fixed(mllint: Runner, tmp_path: Path) -> None:
    target = write(tmp_path / "real" / "job.yaml", JOB_INDENTED)
    link = tmp_path / "job.yaml"
    link.symlink_to(target)
    assert mllint(*ML101, "--fix", "job.yaml").returncode == 0
    assert link.is_symlink()
    assert read(target) == JOB_INDENTED_FIXED


@pytest.mark.usefixtures("writable")
@pytest.mark.parametrize("what", ["file", "folder"])
def test_read_only_gives_a_message_and_exit_1(mllint: Runner, tmp_path: Path, what: str) -> None:
    folder = tmp_path / "jobs"
    path = write(folder / "job.yaml", JOB_INDENTED)
    (path if what == "file" else folder).chmod(0o555 if what == "folder" else 0o444)
    result = mllint(*ML101, "--fix", "jobs/job.yaml")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert f"jobs/job.yaml: fixes not written: the {what}" in result.stderr
    assert "read-only" in result.stderr
    assert read(path) == JOB_INDENTED
    assert sorted(os.listdir(folder)) == ["job.yaml"]


def test_file_that_fails_to_parse_is_left_untouched(mllint: Runner, tmp_path: Path) -> None:
    """The first document has a fix, but the file as a whole cannot be read: nothing is
    written, and the parse error is reported."""
    broken = JOB_INDENTLESS + "---\nmetadata:\n  name: x\n labels: {}\n"
    path = write(tmp_path / "job.yaml", broken)
    result = mllint("--select", "ML001,ML101", "--fix", "--format", "json", "job.yaml")
    assert read(path) == broken
    # The finding of the first document stays: nothing was fixed.
    assert [f["code"] for f in report(result)["findings"]] == ["ML101", "ML001"]
    assert report(result)["summary"]["fixed"] == 0
    assert result.returncode == 1


def test_document_that_cannot_be_rewritten_is_left_with_a_reason(
    mllint: Runner, tmp_path: Path
) -> None:
    """A document with a duplicate key is not rewritten (which value would win?); the other
    documents are still fixed."""
    duplicated = JOB_INDENTLESS.replace("kind: Job\n", "kind: Job\nkind: Job\n")
    path = write(tmp_path / "jobs.yaml", duplicated + "---\n" + JOB_INDENTLESS)
    result = mllint(*ML101, "--fix", "jobs.yaml")
    assert read(path) == duplicated + "---\n" + JOB_INDENTLESS_FIXED
    assert "jobs.yaml: document 1: fixes not applied: " in result.stderr
    assert "duplicate" in result.stderr
    assert result.returncode == 1


# --- operations from outside the engine ------------------------------------------------------

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: server  # the model server
  annotations:
    example.com/owner: "ml-platform"
spec:
  replicas: 3
  template:
    spec:
      containers:
        - name: server
          image: 'ghcr.io/acme/server:1.0'
          args: ["--port", "8080"]
"""


def _edit(*ops: dict[str, Any], document: int = 0, prefix: str = "") -> Edit:
    return Edit(document, prefix, tuple(ops))


def test_operations_from_outside_are_applied() -> None:
    """add (with `-` append and `~1`-escaped keys), replace (keeping the field's quoting),
    remove and move, on a document given by index."""
    ops = (
        {"op": "remove", "path": "/spec/replicas"},
        {"op": "replace", "path": "/spec/template/spec/containers/0/image", "value": "x:2"},
        {"op": "add", "path": "/spec/template/spec/containers/0/args/-", "value": "--debug"},
        {"op": "add", "path": "/metadata/labels", "value": {}},
        {"op": "add", "path": "/metadata/labels/app.kubernetes.io~1name", "value": "x"},
        {
            "op": "move",
            "from": "/metadata/annotations/example.com~1owner",
            "path": "/metadata/annotations/example.com~1team",
        },
    )
    other = "apiVersion: v1\nkind: Service\nmetadata:  {name: s}\n"
    fixed = apply_edits(other + "---\n" + DEPLOYMENT, [_edit(*ops, document=1)], json=False)
    assert fixed.skipped == ()
    assert fixed.text == other + "---\n" + (
        "apiVersion: apps/v1\n"
        "kind: Deployment\n"
        "metadata:\n"
        "  name: server  # the model server\n"
        "  annotations:\n"
        '    example.com/team: "ml-platform"\n'
        "  labels:\n"
        "    app.kubernetes.io/name: x\n"
        "spec:\n"
        "  template:\n"
        "    spec:\n"
        "      containers:\n"
        "        - name: server\n"
        "          image: 'x:2'\n"
        '          args: ["--port", "8080", "--debug"]\n'
    )


def test_new_strings_that_yaml_would_retype_are_quoted() -> None:
    """Kubernetes reads YAML 1.1, where `on`, `yes`, `0755` and `1.0` unquoted are not
    strings; new values keep their type."""
    values = ["plain", "on", "yes", "0755", "1.0", "null", "2024-01-01"]
    ops = [
        {"op": "add", "path": f"/metadata/labels/v{i}", "value": v} for i, v in enumerate(values)
    ]
    fixed = apply_edits(DEPLOYMENT, [_edit(*ops)], json=False)
    assert yaml.safe_load(fixed.text)["metadata"]["labels"] == {
        f"v{i}": v for i, v in enumerate(values)
    }
    assert "  v0: plain\n" in fixed.text  # quoted only where needed
    assert '  v1: "on"\n' in fixed.text


def test_operations_on_a_list_item() -> None:
    """A `kind: List` item's operations are relative to the item; the prefix places them."""
    text = (
        "apiVersion: v1\nkind: List\nitems:\n- " + DEPLOYMENT.replace("\n", "\n  ").rstrip() + "\n"
    )
    fixed = apply_edits(
        text,
        [_edit({"op": "replace", "path": "/spec/replicas", "value": 1}, prefix="/items/0")],
        json=False,
    )
    assert fixed.text == text.replace("replicas: 3", "replicas: 1")


def test_operations_that_do_not_fit_are_refused() -> None:
    """A JSON Patch that names a missing list item leaves the document as it was."""
    op = {"op": "replace", "path": "/spec/template/spec/containers/5/image", "value": "x"}
    fixed = apply_edits(DEPLOYMENT, [_edit(op)], json=False)
    assert fixed.text == DEPLOYMENT
    assert len(fixed.skipped) == 1
    assert fixed.skipped[0].startswith("document 1: fixes not applied")


# --- a real corpus ---------------------------------------------------------------------------

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus"
CORPUS_REPOS = ("kubernetes-sigs__jobset", "kubeflow__katib", "argoproj__argo-workflows")


@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"{CORPUS} is absent (shared test corpus)")
def test_corpus_fixes_are_faithful_and_idempotent(mllint: Runner, tmp_path: Path) -> None:
    """Every fix on real manifests from ML projects is applied (none refused because the
    rewritten document would not read back as intended), a second run has nothing to fix, and
    files that cannot be parsed are left byte-identical."""
    work = tmp_path / "corpus"
    for repo in CORPUS_REPOS:
        shutil.copytree(CORPUS / repo, work / repo)
    for root, dirs, files in os.walk(work):  # the corpus is stored read-only
        for name in dirs:
            Path(root, name).chmod(0o755)
        for name in files:
            Path(root, name).chmod(0o644)
    originals = {p: p.read_bytes() for p in work.rglob("*") if p.is_file()}

    lint = report(mllint("--select", "ALL", "--format", "json", "corpus"))
    unparseable = {f["file"] for f in lint["findings"] if f["code"] == "ML001"}

    fixed = mllint("--select", "ALL", "--fix", "--unsafe-fixes", "--format", "json", "corpus")
    assert "Traceback" not in fixed.stderr
    assert "would not read back" not in fixed.stderr
    assert report(fixed)["summary"]["fixed"] > 50
    again = mllint("--select", "ALL", "--diff", "--unsafe-fixes", "corpus")
    assert again.stdout == ""
    for name in unparseable:
        assert (tmp_path / name).read_bytes() == originals[tmp_path / name]


FIX_LAYOUT = Path(__file__).resolve().parent / "fix_layout"


@pytest.mark.parametrize("name", ["serving", "compact"])
def test_new_lists_follow_the_files_layout_when_their_document_has_none(
    mllint: Runner, tmp_path: Path, name: str
) -> None:
    """The autoscaler has no list of its own; the `metrics:` list the fix adds is indented as
    the Deployment's lists in the same file are (`serving`: indented, `compact`: not)."""
    path = tmp_path / "serving.yaml"
    shutil.copy(FIX_LAYOUT / f"{name}.yaml", path)
    result = mllint("--fix", "--select", "ML501", "serving.yaml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert path.read_text() == (FIX_LAYOUT / f"{name}.fixed.yaml").read_text()
