"""Report formats: `text` for people, `json` for scripts, `sarif` for code-scanning services,
`github` for workflow annotations, `junit` for CI test reports.

Every format shows every finding of the rules that ran, info included; `--fail-on` only sets
the exit code.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from functools import cache
from typing import TYPE_CHECKING, Any

from mllint.linter.lint import FileReport, Located, relative
from mllint.rules import Rule, Severity
from mllint.rules.model import Record
from mllint.rules.pointer import to_field_path

if TYPE_CHECKING:
    import xml.etree.ElementTree as ET


class Tally(Record):
    """The findings of a run counted: by severity, fixable, whether any fails the run, and
    by which rules."""

    _fields = ("severities", "fixable", "failing", "codes")

    severities: Counter[str]
    fixable: int
    failing: bool
    codes: set[str]
    """The codes of the rules with findings (reports describe those rules)."""

    def __init__(
        self,
        severities: Counter[str] | None = None,
        fixable: int = 0,
        failing: bool = False,
        codes: set[str] | None = None,
    ) -> None:
        self.severities = Counter() if severities is None else severities
        self.fixable = fixable
        self.failing = failing
        self.codes = set() if codes is None else codes

    @property
    def findings(self) -> int:
        return sum(self.severities.values())

    def add(self, f: Located, fail_on: Severity) -> None:
        severity = f.finding.severity
        self.severities[severity.value] += 1
        self.fixable += f.finding.fixable
        self.codes.add(f.finding.code)
        self.failing = self.failing or severity.rank >= fail_on.rank


class Run(Record):
    """Everything a format needs: the findings in order and what was read.

    `findings` may be read once only (a streamed run's); `counted` then holds their tally."""

    _fields = (
        "findings",
        "files",
        "documents",
        "objects",
        "skipped",
        "failed_files",
        "fail_on",
        "rules",
        "fixed",
        "paths",
        "unreadable",
        "unwritable_files",
        "extra",
        "templates",
        "file_fail_on",
        "cluster",
        "counted",
    )

    findings: Collection[Located]
    files: int
    documents: int
    objects: int
    skipped: int
    failed_files: int
    fail_on: Severity
    rules: tuple[Rule, ...]
    """The rules mllint knows (SARIF lists them; results point into this list)."""
    fixed: int
    paths: tuple[str, ...]
    """Every file read, in order, so that formats can also list the clean ones."""
    unreadable: frozenset[str]
    """Files that could not be read or parsed to their end."""
    unwritable_files: int
    """Files whose fixes could not be written."""
    extra: dict[str, Any]
    templates: int
    """Files read but not linted: unrendered templates."""
    file_fail_on: Mapping[str, Severity]
    """The fail level of each file, from its own configuration; `fail_on` for the others."""
    cluster: str
    """The API server the objects were read from, when they were not read from files: each
    finding's `file` is then the reference of an object, and the summary counts objects only."""
    counted: Tally | None

    def __init__(  # noqa: PLR0917  # the fields in order, positionally
        self,
        findings: Collection[Located],
        files: int,
        documents: int,
        objects: int,
        skipped: int,
        failed_files: int,
        fail_on: Severity,
        rules: tuple[Rule, ...],
        fixed: int = 0,
        paths: tuple[str, ...] = (),
        unreadable: frozenset[str] = frozenset(),
        unwritable_files: int = 0,
        extra: dict[str, Any] | None = None,
        templates: int = 0,
        file_fail_on: Mapping[str, Severity] | None = None,
        cluster: str = "",
        counted: Tally | None = None,
    ) -> None:
        self.findings = findings
        self.files = files
        self.documents = documents
        self.objects = objects
        self.skipped = skipped
        self.failed_files = failed_files
        self.fail_on = fail_on
        self.rules = rules
        self.fixed = fixed
        self.paths = paths
        self.unreadable = unreadable
        self.unwritable_files = unwritable_files
        self.extra = {} if extra is None else extra
        self.templates = templates
        self.file_fail_on = {} if file_fail_on is None else file_fail_on
        self.cluster = cluster
        self.counted = counted

    @classmethod
    def of(
        cls,
        reports: list[FileReport],
        fail_on: Mapping[str, Severity],
        rules: tuple[Rule, ...],
        fixed: int = 0,
    ) -> Run:
        """`fail_on` gives each file's fail level; the summary shows the lowest of them."""
        findings = [f for r in reports for f in r.findings]
        findings.sort(key=lambda f: (f.file, f.line, f.column, f.finding.code))
        return cls(
            findings,
            len(reports),
            sum(r.documents for r in reports),
            sum(r.objects for r in reports),
            sum(r.skipped for r in reports),
            sum(r.failed for r in reports),
            min(fail_on.values(), key=lambda s: s.rank, default=Severity.WARNING),
            rules,
            fixed,
            paths=tuple(r.path for r in reports),
            unreadable=frozenset(r.path for r in reports if r.failed),
            templates=sum(r.note is not None for r in reports),
            file_fail_on=fail_on,
            unwritable_files=sum(r.unwritable for r in reports),
        )

    @property
    def tally(self) -> Tally:
        if self.counted is None:
            self.counted = Tally()
            for f in self.findings:
                self.counted.add(f, self.file_fail_on.get(f.file, self.fail_on))
        return self.counted

    @property
    def by_severity(self) -> Counter[str]:
        return self.tally.severities

    @property
    def failing(self) -> bool:
        return self.tally.failing

    def summary(self) -> dict[str, Any]:
        sev = self.by_severity
        read: dict[str, Any] = {"cluster": self.cluster} if self.cluster else {"files": self.files}
        return {
            **read,
            "documents": self.documents,
            "objects": self.objects,
            "skipped_documents": self.skipped,
            "unreadable_files": self.failed_files,
            "templates_not_linted": self.templates,
            "unwritable_files": self.unwritable_files,
            "findings": self.tally.findings,
            "errors": sev.get("error", 0),
            "warnings": sev.get("warning", 0),
            "info": sev.get("info", 0),
            "fixable": self.tally.fixable,
            "fixed": self.fixed,
            "fail_on": self.fail_on.value,
            "failed": self.failing,
        }


HOMEPAGE = "https://github.com/mllint/mllint"


@cache
def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version("mllint")
    except PackageNotFoundError:
        return "unknown"


def _message(f: Located) -> str:
    """The finding's message, naming the chart template it was rendered from, if any, for the
    formats that have no place of their own for it."""
    return f"{f.finding.message} (from {f.source})" if f.source else f.finding.message


# --- text -------------------------------------------------------------------------------------

_COLORS = {Severity.ERROR: "1;31", Severity.WARNING: "1;33", Severity.INFO: "1;36"}
_BOLD, _DIM, _CYAN = "1", "2", "36"


def _paint(text: str, code: str, color: bool) -> str:
    return f"\x1b[{code}m{text}\x1b[0m" if color else text


def text(run: Run, color: bool = False) -> str:
    """`path:line:col: CODE [*] message (rule-name)` per finding, then one summary line."""
    return "".join(text_chunks(run, color))


def text_chunks(run: Run, color: bool = False) -> Iterator[str]:
    for f in run.findings:
        fd = f.finding
        where = _paint(f"{relative(f.file)}:{_place(f)}:", _BOLD, color)
        code = _paint(fd.code, _COLORS[fd.severity], color)
        fixable = " " + _paint("[*]", _CYAN, color) if fd.fixable else ""
        rule = _paint(f"({fd.rule})", _DIM, color)
        origin = f" from {f.source}" if f.source else ""
        yield f"{where} {code}{fixable} {fd.message} {rule}{origin}\n"
    yield _paint(_summary_line(run), _BOLD, color) + "\n"


def _place(f: Located) -> str:
    """`line:col`; where there is no line (an object read from a cluster), the field path."""
    if f.line or not f.finding.pointer:
        return f"{f.line}:{f.column}"
    try:
        return to_field_path(f.finding.pointer)
    except ValueError:
        return f.finding.pointer


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _summary_line(run: Run) -> str:
    read = f"{_plural(run.files, 'file')}, {_plural(run.objects, 'object')}"
    if run.cluster:
        read = f"{_plural(run.objects, 'object')} of cluster {run.cluster}"
    if run.tally.findings:
        sev = run.by_severity
        counts = [
            _plural(sev["error"], "error") if sev["error"] else "",
            _plural(sev["warning"], "warning") if sev["warning"] else "",
            f"{sev['info']} info" if sev["info"] else "",
        ]
        parts = [
            f"Found {_plural(run.tally.findings, 'finding')} ({', '.join(c for c in counts if c)})"
            f" in {read}"
        ]
    else:
        parts = [f"No findings in {read}"]
    if run.skipped:
        parts.append(f"{_plural(run.skipped, 'document')} skipped (not Kubernetes objects)")
    if run.failed_files:
        parts.append(f"{_plural(run.failed_files, 'file')} could not be read or parsed")
    if run.templates:
        parts.append(f"{_plural(run.templates, 'template')} not linted until rendered")
    if run.unwritable_files:
        parts.append(f"{_plural(run.unwritable_files, 'file')} could not be written")
    if run.fixed:
        parts.append(f"fixed {_plural(run.fixed, 'file')}")
    fixable = run.tally.fixable
    if fixable:
        parts.append(f"{fixable} fixable with --fix")
    return "; ".join(parts) + "."


# --- json -------------------------------------------------------------------------------------


def describe_rule(rule: Rule) -> dict[str, Any]:
    """A rule as reports list it: team rules (`origin`) carry their docs, as built-in ones."""
    return {
        "code": rule.code,
        "name": rule.name,
        "severity": rule.severity.value,
        "summary": rule.summary,
        "url": rule.url,
        "origin": rule.origin or "built-in",
        "docs": rule.docs,
    }


def as_json(run: Run, color: bool = False) -> str:
    """The `findings` items and their keys are a contract: scripts read them. `rules` describes
    the rules with findings."""
    return "".join(json_chunks(run, color))


def json_chunks(run: Run, color: bool = False) -> Iterator[str]:
    items = (
        {
            "rule": f.finding.rule,
            "code": f.finding.code,
            "severity": f.finding.severity.value,
            "message": f.finding.message,
            "file": relative(f.file),
            "source": f.source,
            "line": f.line,
            "column": f.column,
            "pointer": f.finding.pointer,
            "kind": f.finding.kind,
            "name": f.finding.name,
            "namespace": f.finding.namespace,
            "fixable": f.finding.fixable,
        }
        for f in run.findings
    )
    found = run.tally.codes
    rules = [describe_rule(r) for r in run.rules if r.code in found]
    return _spliced({"findings": [_HOLE], "summary": run.summary(), "rules": rules}, items)


_HOLE = "\x00items\x00"


def _spliced(document: dict[str, Any], items: Iterable[dict[str, Any]]) -> Iterator[str]:
    """`json.dumps(document, indent=2)` with the list holding _HOLE filled with `items`, written
    item by item: the same text, without the whole list in memory."""
    import json  # only the JSON formats need it: kept off the text path's start-up

    whole = json.dumps(document, indent=2) + "\n"
    hole = whole.index(json.dumps(_HOLE))
    start = whole.rindex("[", 0, hole)
    margin = whole[whole.rindex("\n", 0, hole) : hole]
    end = whole.index("]", hole)
    yield whole[: start + 1]
    separator = margin
    for item in items:
        yield separator + json.dumps(item, indent=2).replace("\n", margin)
        separator = "," + margin
    if separator != margin:  # the list was not empty: close it on a line of its own
        yield whole[hole + len(json.dumps(_HOLE)) : end]
    yield whole[end:]


# --- sarif ------------------------------------------------------------------------------------

SARIF_SCHEMA = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
SRCROOT = "%SRCROOT%"
"""The base that relative artifact URIs resolve against: the folder mllint ran in."""
FINGERPRINT = "mllintFinding/v1"

_SARIF_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}


def _section(docs: str, heading: str) -> str:
    """The body of a `## heading` section of a rule's docs, as one paragraph."""
    match = re.search(rf"^## {re.escape(heading)}\s*\n(.*?)(?=^## |\Z)", docs, re.M | re.S)
    return " ".join(match.group(1).split()) if match else ""


def _sarif_rule(rule: Rule) -> dict[str, Any]:
    tags = ["kubernetes", "machine-learning"]
    if rule.meta:
        tags.append("input")
    properties: dict[str, Any] = {"tags": tags, "precision": "very-high"}
    if rule.fix_safety is not None:
        properties["fix-safety"] = rule.fix_safety.value
    if rule.origin:
        tags.append("team")
        properties["origin"] = rule.origin
    described: dict[str, Any] = {
        "id": rule.code,
        "name": rule.name,
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": _section(rule.docs, "What it does") or rule.summary},
        "helpUri": rule.url,
        "help": {"text": rule.docs or rule.summary, "markdown": rule.docs or rule.summary},
        "defaultConfiguration": {
            "enabled": rule.enabled_by_default,
            "level": _SARIF_LEVEL[rule.severity],
        },
        "properties": properties,
    }
    if not rule.url:
        del described["helpUri"]
    return described


def _artifact(path: str) -> dict[str, Any]:
    """A relative URI under %SRCROOT% for files below the working folder; else a file URI."""
    from pathlib import Path  # only SARIF needs them: kept off the text path's start-up
    from urllib.parse import quote

    shown = relative(path)
    if Path(shown).is_absolute():
        return {"uri": Path(shown).as_uri()}
    return {"uri": quote(Path(shown).as_posix()), "uriBaseId": SRCROOT}


def _fingerprint(f: Located, seen: Counter[str]) -> str:
    """Stable across edits that move lines: the object and the field, not the position.
    Identical findings in one file (two equal objects) are told apart by their order."""
    fd = f.finding
    key = "\0".join((relative(f.file), fd.code, fd.kind, fd.namespace, fd.name, fd.pointer))
    import hashlib  # only SARIF fingerprints need it: kept off the text path's start-up

    digest = hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()[:32]
    seen[digest] += 1
    return f"{digest}:{seen[digest]}"


def sarif(run: Run, color: bool = False) -> str:
    """SARIF 2.1.0, within what GitHub code scanning accepts."""
    return "".join(sarif_chunks(run, color))


def sarif_chunks(run: Run, color: bool = False) -> Iterator[str]:
    from pathlib import Path

    log = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "mllint",
                        "version": version(),
                        "semanticVersion": version(),
                        "informationUri": HOMEPAGE,
                        "rules": [_sarif_rule(r) for r in run.rules],
                    }
                },
                "originalUriBaseIds": {SRCROOT: {"uri": Path.cwd().as_uri().rstrip("/") + "/"}},
                "columnKind": "unicodeCodePoints",
                "results": [_HOLE],
                "properties": {"summary": run.summary()},
            }
        ],
    }
    return _spliced(log, _sarif_results(run))


def _sarif_results(run: Run) -> Iterator[dict[str, Any]]:
    index = {r.code: i for i, r in enumerate(run.rules)}
    seen: Counter[str] = Counter()
    shown = ""
    for f in run.findings:
        if relative(f.file) != shown:
            # Fingerprints count identical findings within a file; files come one at a time.
            shown = relative(f.file)
            seen.clear()
        fd = f.finding
        physical: dict[str, Any] = {"artifactLocation": _artifact(f.file)}
        if f.line > 0:
            physical["region"] = {"startLine": f.line, "startColumn": max(f.column, 1)}
        result: dict[str, Any] = {"ruleId": fd.code}
        if fd.code in index:
            result["ruleIndex"] = index[fd.code]
        result |= {
            "level": _SARIF_LEVEL[fd.severity],
            "message": {"text": _message(f)},
            "locations": [{"physicalLocation": physical}],
            "partialFingerprints": {FINGERPRINT: _fingerprint(f, seen)},
            "properties": {
                "rule": fd.rule,
                "pointer": fd.pointer,
                "kind": fd.kind,
                "name": fd.name,
                "namespace": fd.namespace,
                "fixable": fd.fixable,
            },
        }
        yield result


# --- github -----------------------------------------------------------------------------------

_GITHUB_COMMAND = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}


def _gh_data(value: str) -> str:
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _gh_property(value: str) -> str:
    return _gh_data(value).replace(":", "%3A").replace(",", "%2C")


def github(run: Run, color: bool = False) -> str:
    """GitHub Actions workflow commands: one annotation per finding, nothing else."""
    return "".join(github_chunks(run, color))


def github_chunks(run: Run, color: bool = False) -> Iterator[str]:
    for f in run.findings:
        fd = f.finding
        props = {"file": relative(f.file)}
        if f.line > 0:
            props |= {"line": str(f.line), "col": str(max(f.column, 1))}
        props["title"] = f"{fd.code} {fd.rule}"
        rendered = ",".join(f"{k}={_gh_property(v)}" for k, v in props.items())
        yield f"::{_GITHUB_COMMAND[fd.severity]} {rendered}::{_gh_data(_message(f))}\n"


# --- junit ------------------------------------------------------------------------------------

# Characters XML 1.0 cannot carry at all, not even as references: C0 controls but tab, LF, CR;
# surrogates (which file names that are not UTF-8 decode to); U+FFFE and U+FFFF. Compiled by
# `re` when a JUnit report first needs it, not at every start.
_NOT_XML = "[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]"


def _xml(value: str) -> str:
    return re.sub(_NOT_XML, lambda m: f"\\x{ord(m.group()):02x}", value)


def _element(parent: ET.Element, tag: str, **attrs: str) -> ET.Element:
    import xml.etree.ElementTree as ET  # only JUnit needs it: kept off the text path's start-up

    return ET.SubElement(parent, tag, {k: _xml(v) for k, v in attrs.items()})


def _object(f: Located) -> str:
    fd = f.finding
    if not fd.kind:
        return ""
    where = f"{fd.namespace}/{fd.name}" if fd.namespace else fd.name
    return f"{fd.kind} {where}".rstrip()


def junit(run: Run, color: bool = False) -> str:
    """JUnit XML: a testsuite per file, a failing testcase per finding, a passing one per clean
    file (so that CI shows what was checked), an erroring one per unreadable file."""
    import xml.etree.ElementTree as ET

    by_file: dict[str, list[Located]] = {p: [] for p in run.paths}
    for f in run.findings:
        by_file.setdefault(f.file, []).append(f)
    root = ET.Element("testsuites", name="mllint")
    totals: Counter[str] = Counter()
    for path, found in by_file.items():
        shown = relative(path)
        broken = path in run.unreadable and not found
        suite = _element(
            root,
            "testsuite",
            name=shown,
            tests=str(len(found) or 1),
            failures=str(len(found)),
            errors=str(int(broken)),
            skipped="0",
        )
        totals.update(tests=len(found) or 1, failures=len(found), errors=int(broken))
        for f in found:
            _failure(suite, shown, f)
        if not found:
            case = _element(suite, "testcase", name="mllint", classname=shown, file=shown)
            if broken:
                error = _element(case, "error", message="the file could not be read")
                error.text = _xml(f"{shown}: could not be read or parsed to its end")
    root.attrib |= {
        "tests": str(totals["tests"]),
        "failures": str(totals["failures"]),
        "errors": str(totals["errors"]),
    }
    ET.indent(root)
    body = ET.tostring(root, encoding="unicode")
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{body}\n'


def _failure(suite: ET.Element, shown: str, f: Located) -> None:
    fd = f.finding
    case = _element(
        suite,
        "testcase",
        name=f"{fd.code} {fd.rule} at {f.line}:{f.column}",
        classname=shown,
        file=shown,
        line=str(f.line),
    )
    details = [
        f"{shown}:{f.line}:{f.column}: {fd.code} {_message(f)} ({fd.rule})",
        *([f"object: {_object(f)}"] if _object(f) else []),
        *([f"field: {fd.pointer}"] if fd.pointer else []),
        f"severity: {fd.severity.value}",
    ]
    failure = _element(case, "failure", message=_message(f), type=fd.severity.value)
    failure.text = _xml("\n".join(details))


Formatter = Callable[[Run, bool], str]

Chunks = Callable[[Run, bool], Iterable[str]]

STREAMS: dict[str, Chunks] = {
    "text": text_chunks,
    "json": json_chunks,
    "sarif": sarif_chunks,
    "github": github_chunks,
    "junit": lambda run, color: [junit(run, color)],
}
"""Each format as the pieces of its text, written one after the other: all but JUnit (whose
root element counts every test first) read the findings one at a time."""

FORMATS: dict[str, Formatter] = {
    "text": text,
    "json": as_json,
    "sarif": sarif,
    "github": github,
    "junit": junit,
}
