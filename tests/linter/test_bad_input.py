"""Broken and hostile input, each case through the installed `mllint` command with a time limit.

Every case must end in time with a defined exit code and no traceback; a problem is reported
as a finding that names the file, and the line and column where there is one.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
from installed import MLLINT

TIMEOUT = 60
"""Seconds; every case here takes well under one, so reaching this means a hang."""


def lint(cwd: Path, *args: str) -> tuple[int, dict[str, Any]]:
    """Exit code and JSON report of `mllint --format json ARGS`, with no traceback allowed."""
    result = subprocess.run(
        [MLLINT, "--format", "json", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode in (0, 1), (result.returncode, result.stderr)
    return result.returncode, json.loads(result.stdout)


def only_finding(report: dict[str, Any]) -> dict[str, Any]:
    findings = report["findings"]
    assert len(findings) == 1, findings
    finding: dict[str, Any] = findings[0]
    return finding


def refused(cwd: Path, name: str, words: str) -> dict[str, Any]:
    """Lint the file `name`, expecting exit 1 and one yaml-invalid finding on it saying `words`."""
    code, report = lint(cwd, name)
    assert code == 1
    finding = only_finding(report)
    assert finding["code"] == "ML001"
    assert finding["file"] == name
    assert words in finding["message"], finding["message"]
    return finding


JOB = """\
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
          resources:
            limits: {nvidia.com/gpu: 1, memory: 8Gi}
            requests: {cpu: "1", memory: 8Gi}
"""


READING = ("--select", "ML001,ML002")
"""Only the rules about reading files, for cases about reading rather than about manifests."""


def test_syntax_error_names_its_line(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("apiVersion: v1\nkind: Pod\nmetadata: name: x\n")
    finding = refused(tmp_path, "bad.yaml", "invalid YAML")
    assert (finding["line"], finding["column"]) == (3, 15)


def test_invalid_utf8_names_its_line_and_column(tmp_path: Path) -> None:
    (tmp_path / "latin1.yaml").write_bytes(
        b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: caf\xe9\n"
    )
    finding = refused(tmp_path, "latin1.yaml", "invalid UTF-8 (byte 0xe9)")
    assert (finding["line"], finding["column"]) == (4, 12)


def test_binary_file_names_the_first_nul_byte(tmp_path: Path) -> None:
    (tmp_path / "image.yaml").write_bytes(
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256))
    )
    finding = refused(tmp_path, "image.yaml", "binary file")
    assert (finding["line"], finding["column"]) == (3, 1)


def test_utf16_is_named_as_such(tmp_path: Path) -> None:
    (tmp_path / "utf16.yaml").write_bytes(JOB.encode("utf-16"))
    refused(tmp_path, "utf16.yaml", "UTF-16")


def test_billion_laughs_is_refused_at_the_alias(tmp_path: Path) -> None:
    lines = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, 10):
        prev, cur = chr(ord("a") + level - 1), chr(ord("a") + level)
        lines.append(f"{cur}: &{cur} [{', '.join([f'*{prev}'] * 9)}]")
    (tmp_path / "lol.yaml").write_text("\n".join(lines) + "\n")
    finding = refused(tmp_path, "lol.yaml", "aliases expand to more than")
    assert finding["line"] >= 2


def test_ordinary_aliases_are_read(tmp_path: Path) -> None:
    text = JOB.replace("  name: train\n", "  name: train\n  labels: &labels {team: ml}\n")
    text = text.replace("  template:\n", "  template:\n    metadata: {labels: *labels}\n")
    (tmp_path / "job.yaml").write_text(text)
    code, report = lint(tmp_path, *READING, "job.yaml")
    assert (code, report["findings"]) == (0, [])
    assert report["summary"]["objects"] == 1


@pytest.mark.parametrize(
    ("text", "words", "line"),
    [
        ("a: 1\nspec:\n  replicas: !!bool maybe\n", "'maybe' is not a valid bool", 3),
        ("a: !!int 0x\n", "'0x' is not a valid int", 1),
        ("a: &x 1\nb: &x 2\n", "duplicate anchor", 2),
        ("a: *nowhere\n", "undefined alias", 1),
    ],
    ids=["bool", "int", "duplicate-anchor", "undefined-alias"],
)
def test_bad_scalars_and_anchors(tmp_path: Path, text: str, words: str, line: int) -> None:
    (tmp_path / "odd.yaml").write_text(text)
    assert refused(tmp_path, "odd.yaml", words)["line"] == line


def test_python_tags_run_nothing(tmp_path: Path) -> None:
    (tmp_path / "evil.yaml").write_text(
        'a: !!python/object/apply:os.system ["touch pwned"]\n'
        'b: !!python/object/apply:subprocess.call [["touch", "pwned"]]\n'
    )
    code, report = lint(tmp_path, "evil.yaml")
    assert (code, report["findings"]) == (0, [])
    assert not (tmp_path / "pwned").exists()


NESTING = {
    "flow-sequence": lambda n: "a: " + "[" * n + "]" * n + "\n",
    "flow-mapping": lambda n: "{a: " * n + "1" + "}" * n + "\n",
    "block-sequence": lambda n: "- " * n + "x\n",
    "block-mapping": lambda n: "? " * n + "x\n",
}


DEPTH_REFUSED = "nesting deeper than 256 levels"
"""Our own guard's answer, whatever limits the YAML library has of its own."""


# 300 and 990 lie between our limit and libyaml's own (1,000 levels since PyYAML 6.0.4); the
# larger ones lie past both, where our guard must still be the one that answers.
@pytest.mark.parametrize("levels", [300, 990, 20_000, 200_000])
@pytest.mark.parametrize("style", sorted(NESTING))
def test_pathological_nesting_is_refused(tmp_path: Path, style: str, levels: int) -> None:
    (tmp_path / "deep.yaml").write_text(NESTING[style](levels))
    finding = refused(tmp_path, "deep.yaml", DEPTH_REFUSED)
    assert finding["line"] == 1
    assert finding["column"] > 1


@pytest.mark.parametrize("levels", [300, 1200])
def test_nesting_by_indentation_past_the_first_line_is_refused(tmp_path: Path, levels: int) -> None:
    lines = "".join(" " * level + "a:\n" for level in range(levels)) + " " * levels + "b: 1\n"
    (tmp_path / "deep.yaml").write_text("kind: x\nvalue:\n" + lines)
    finding = refused(tmp_path, "deep.yaml", DEPTH_REFUSED)
    # Line 3's `a:` sits beside `value:`; the mapping under it (level 2) opens on line 4, so
    # level 257 opens on line 259.
    assert finding["line"] == 259


def test_deep_indentation_that_does_not_nest_is_read(tmp_path: Path) -> None:
    # A literal block indented far, under a handful of brackets: the cheap bound is passed,
    # and the parser's own count says the depth is 4.
    text = " " * 200 + "deep text\n"
    (tmp_path / "text.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata:\n  k: |\n" + text * 3
    )
    code, report = lint(tmp_path, "text.yaml")
    assert (code, report["findings"]) == (0, [])


def test_json_nesting_is_refused(tmp_path: Path) -> None:
    (tmp_path / "deep.json").write_text('{"a": ' + "[" * 100_000 + "]" * 100_000 + "}")
    finding = refused(tmp_path, "deep.json", DEPTH_REFUSED)
    # The object is level 1, so the 256th bracket (column 7 + 255) opens level 257.
    assert (finding["line"], finding["column"]) == (1, 7 + 255)


@pytest.mark.parametrize("anchored", [False, True])
def test_nesting_up_to_the_limit_is_read(tmp_path: Path, anchored: bool) -> None:
    # With an anchor in the file the loader takes its alias-counting path, which recurses too.
    anchor = "&top " if anchored else ""
    (tmp_path / "deep.yaml").write_text(anchor + "[" * 256 + "]" * 256 + "\n")
    code, report = lint(tmp_path, "deep.yaml")
    assert (code, report["findings"]) == (0, [])
    assert report["summary"]["skipped_documents"] == 1


def test_duplicate_key_names_the_second_key(tmp_path: Path) -> None:
    (tmp_path / "dup.yaml").write_text(
        JOB.replace("  name: train\n", "  name: train\n  name: eval\n")
    )
    code, report = lint(tmp_path, "--select", "ML002", "dup.yaml")
    assert code == 1
    finding = only_finding(report)
    assert (finding["code"], finding["file"], finding["line"], finding["column"]) == (
        "ML002",
        "dup.yaml",
        5,
        3,
    )


def test_folder_link_to_a_parent_is_walked_once(tmp_path: Path) -> None:
    (tmp_path / "tree" / "sub").mkdir(parents=True)
    (tmp_path / "tree" / "job.yaml").write_text(JOB)
    (tmp_path / "tree" / "sub" / "up").symlink_to("..")
    code, report = lint(tmp_path, *READING, "tree")
    assert code == 0
    assert report["summary"]["files"] == 1


def test_file_link_to_itself(tmp_path: Path) -> None:
    (tmp_path / "tree").mkdir()
    (tmp_path / "tree" / "self.yaml").symlink_to("self.yaml")
    code, report = lint(tmp_path, *READING, "tree")
    assert code == 1
    finding = only_finding(report)
    assert finding["file"] == "tree/self.yaml"
    assert "cannot read file: Too many levels of symbolic links" in finding["message"]
    assert report["summary"]["unreadable_files"] == 1


def test_dangling_link_is_reported(tmp_path: Path) -> None:
    (tmp_path / "gone.yaml").symlink_to("deleted.yaml")
    refused(tmp_path, "gone.yaml", "cannot read file: No such file or directory")


def test_file_without_read_permission(tmp_path: Path) -> None:
    path = tmp_path / "secret.yaml"
    path.write_text(JOB)
    path.chmod(0)
    try:
        with path.open("rb"):
            pytest.skip("permission bits do not stop this user's reads (root); see the EIO case")
    except PermissionError:
        pass
    refused(tmp_path, "secret.yaml", "cannot read file: Permission denied")


@pytest.mark.skipif(not Path("/proc/self/mem").exists(), reason="needs Linux /proc")
def test_file_whose_read_fails(tmp_path: Path) -> None:
    # Reading a process's own memory from address 0 fails with EIO even for root: a file that
    # opens and then cannot be read.
    (tmp_path / "eio.yaml").symlink_to("/proc/self/mem")
    refused(tmp_path, "eio.yaml", "cannot read file: Input/output error")


def test_endless_file_is_cut_off(tmp_path: Path) -> None:
    (tmp_path / "zero.yaml").symlink_to("/dev/zero")
    refused(tmp_path, "zero.yaml", "larger than 64 MiB")


def test_file_larger_than_the_limit_is_refused(tmp_path: Path) -> None:
    with (tmp_path / "big.yaml").open("wb") as fh:
        fh.truncate((64 << 20) + 1)  # sparse: no disk space taken
    refused(tmp_path, "big.yaml", "larger than 64 MiB")


def test_named_pipe_given_by_name_is_read_to_its_end(tmp_path: Path) -> None:
    # A pipe has no size to read by: all it sends is read, in as many pieces as it comes in
    # (here more than a pipe's 64 KiB buffer, the Job after the padding).
    padding = "# padding\n" * 10_000
    (tmp_path / "source.yaml").write_text(padding + JOB)
    os.mkfifo(tmp_path / "job.yaml")
    writer = subprocess.Popen(["sh", "-c", "cat source.yaml > job.yaml"], cwd=tmp_path)
    try:
        code, report = lint(tmp_path, "job.yaml")
    finally:
        writer.wait(timeout=TIMEOUT)
    assert code == 1
    findings = report["findings"]
    assert findings
    assert {f["file"] for f in findings} == {"job.yaml"}
    assert "ML001" not in {f["code"] for f in findings}
    assert min(f["line"] for f in findings) > 10_000


def test_fifo_and_devices_in_a_folder_are_passed_over(tmp_path: Path) -> None:
    # Opening a FIFO waits for a writer: one found by walking a folder must not be opened.
    (tmp_path / "tree").mkdir()
    os.mkfifo(tmp_path / "tree" / "pipe.yaml")
    (tmp_path / "tree" / "zero.yaml").symlink_to("/dev/zero")
    (tmp_path / "tree" / "job.yaml").write_text(JOB)
    assert stat.S_ISFIFO((tmp_path / "tree" / "pipe.yaml").lstat().st_mode)
    code, report = lint(tmp_path, *READING, "tree")
    assert code == 0
    assert report["summary"]["files"] == 1


def test_folder_named_like_a_manifest(tmp_path: Path) -> None:
    (tmp_path / "odd.yaml").mkdir()
    (tmp_path / "odd.yaml" / "job.yaml").write_text(JOB)
    code, report = lint(tmp_path, *READING, "odd.yaml")
    assert code == 0
    assert report["summary"]["files"] == 1


@pytest.mark.parametrize(
    "text",
    ["", "# training jobs live in jobs/\n# nothing here yet\n", "---\n---\n", "\n\n\n"],
    ids=["empty", "comments", "empty-documents", "blank-lines"],
)
def test_nothing_to_lint_is_fine(tmp_path: Path, text: str) -> None:
    (tmp_path / "none.yaml").write_text(text)
    code, report = lint(tmp_path, "none.yaml")
    assert (code, report["findings"]) == (0, [])
    assert report["summary"]["objects"] == 0


def test_helm_values_are_skipped_and_counted(tmp_path: Path) -> None:
    (tmp_path / "values.yaml").write_text(
        "replicaCount: 2\nimage:\n  repository: vllm/vllm-openai\n  tag: v0.6.3\n"
        "resources:\n  limits:\n    nvidia.com/gpu: 1\n"
    )
    code, report = lint(tmp_path, "values.yaml")
    assert (code, report["findings"]) == (0, [])
    assert report["summary"]["skipped_documents"] == 1
    assert report["summary"]["objects"] == 0


def test_huge_single_line_is_linted_with_columns(tmp_path: Path) -> None:
    # About 8 MiB of minified JSON on one line; the last object breaks gpu-not-in-limits.
    config = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "weights-index"},
        "data": {f"shard-{i:05}": "x" * 200 for i in range(400)},
    }
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "train"},
        "spec": {
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [
                        {
                            "name": "t",
                            "image": "pytorch/pytorch:2.3.0",
                            "resources": {"requests": {"nvidia.com/gpu": 1}},
                        }
                    ],
                }
            }
        },
    }
    text = json.dumps({"apiVersion": "v1", "kind": "List", "items": [config] * 100 + [job]})
    assert "\n" not in text and len(text) > 8_000_000
    (tmp_path / "list.json").write_text(text)
    code, report = lint(tmp_path, "--select", "ML101", "list.json")
    assert code == 1
    finding = only_finding(report)
    assert finding["line"] == 1
    assert finding["column"] == text.index('"nvidia.com/gpu"') + 1
    assert report["summary"]["objects"] == 101


def test_huge_line_of_text_is_not_an_object(tmp_path: Path) -> None:
    (tmp_path / "blob.yaml").write_text("x" * 20_000_000)
    code, report = lint(tmp_path, "blob.yaml")
    assert (code, report["findings"]) == (0, [])
    assert report["summary"]["skipped_documents"] == 1


def test_text_report_names_file_line_and_column(tmp_path: Path) -> None:
    (tmp_path / "latin1.yaml").write_bytes(
        b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: caf\xe9\n"
    )
    result = subprocess.run(
        [MLLINT, "latin1.yaml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "latin1.yaml:4:12:" in result.stdout


def test_workers_report_bad_input_as_one_process_does(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "binary.yaml").write_bytes(b"\x00\x01\x02")
    (tree / "latin1.yaml").write_bytes(b"a: caf\xe9\n")
    (tree / "deep.yaml").write_text(NESTING["block-mapping"](200_000))
    (tree / "flow.json").write_text("[" * 100_000)
    (tree / "dup.yaml").write_text("a: 1\na: 2\n")
    (tree / "self.yaml").symlink_to("self.yaml")
    (tree / "gone.yaml").symlink_to("deleted.yaml")
    (tree / "empty.yaml").write_text("")
    (tree / "job.yaml").write_text(JOB)
    serial = lint(tmp_path, "-j", "1", "tree")
    parallel = lint(tmp_path, "-j", "2", "tree")
    assert serial == parallel
    code, report = serial
    assert code == 1
    assert report["summary"]["files"] == 9
    assert report["summary"]["unreadable_files"] == 6
