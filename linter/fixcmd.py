"""`--fix` and `--diff`: apply the engine's fixes to files, keeping comments and layout.

`--fix` rewrites each changed file atomically (a temporary file in the same folder, synced,
then renamed over the original with its owner and mode), so a file is never half-written or
lost; a file with other hard links is written through in place after a synced copy of the new
text is made beside it. The report then lists what remains in the new text. On stdin the fixed
document goes to stdout.
`--diff` prints a unified diff of what `--fix` would do and writes nothing; its report is that
of a plain lint run. A file that cannot be read or parsed is reported and left untouched.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import functools
import json
import os
import stat
import sys
import tempfile
from collections.abc import Sequence

from mllint.linter.fix import Edit, fix_text
from mllint.linter.kustomize import fragment_of
from mllint.linter.lint import (
    STDIN,
    FileReport,
    Located,
    Ref,
    add_set_findings,
    chart_of,
    describe_os_error,
    lint_file,
    read,
    relative,
    set_findings,
    unexpected,
)
from mllint.linter.loader import LoadError, decode
from mllint.rules import Engine, Safety
from mllint.rules.catalog import YAML_INVALID
from mllint.rules.setrules import Collector

_BOM = b"\xef\xbb\xbf"


class WriteError(Exception):
    """The fixed text could not be written; the file is as it was."""


def run(
    files: Sequence[str], engine: Engine, args: argparse.Namespace
) -> tuple[list[FileReport], int]:
    """Reports for `files` after fixing (or, with `--diff`, as they are), and how many files
    were fixed."""
    set_edits = _set_edits(files, engine, unsafe=args.unsafe_fixes)
    collector: Collector[Ref] = engine.collector()
    reports: list[FileReport] = []
    fixed = 0
    held: dict[str, bytes] = {}
    for path in files:
        report, changed = fix_file(
            path,
            engine,
            unsafe=args.unsafe_fixes,
            diff=args.diff,
            stdin_name=args.stdin_filename,
            extra=set_edits.get(path, ()),
            collector=collector,
            held=held,
        )
        reports.append(report)
        fixed += changed
    add_set_findings(reports, collector, lambda p: held[p] if p in held else read(p))
    return reports, fixed


def _set_edits(files: Sequence[str], engine: Engine, *, unsafe: bool) -> dict[str, list[Edit]]:
    """The whole-set rules' fixes, by file: these need every file read before any is fixed."""
    collector: Collector[Ref] = engine.collector()
    if not any(a.rule.whole_set and a.rule.fixable for a in engine.active):
        return {}
    for path in files:
        lint_file(path, engine, collector=collector)
    edits: dict[str, list[Edit]] = {}
    for ref, finding, _, _ in set_findings(collector, read):
        fix = finding.fix
        if fix is not None and (unsafe or fix.safety is Safety.SAFE):
            edits.setdefault(ref.path, []).append(Edit(ref.document, ref.prefix, fix.ops))
    return edits


def fix_file(
    path: str,
    engine: Engine,
    *,
    unsafe: bool,
    diff: bool,
    stdin_name: str | None = None,
    extra: Sequence[Edit] = (),
    collector: Collector[Ref] | None = None,
    held: dict[str, bytes] | None = None,
) -> tuple[FileReport, bool]:
    """Fix one file (or show the diff), returning its report and whether it changed.

    `extra` are edits of the whole-set rules for this file; objects go to `collector` for
    their findings after the run, and stdin's text to `held` for placing them."""
    report_of = functools.partial(_report, engine=engine, collector=collector, held=held)
    name = stdin_name if path == STDIN and stdin_name else path
    if chart_of(path) is not None:
        return lint_file(path, engine), False  # a template is never edited before rendering
    try:
        data = read(path)
    except (OSError, LoadError) as exc:
        message = exc.message if isinstance(exc, LoadError) else describe_os_error(exc)
        return _unreadable(name, engine, message), False
    try:
        text = decode(data)
        result = fix_text(
            text,
            engine,
            unsafe=unsafe,
            json=is_json(name, text),
            extra=extra,
            fragment=fragment_of(path),
        )
    except LoadError:
        if path == STDIN and not diff:
            _stdout(data)  # a pipeline keeps its document even when it cannot be fixed
        return report_of(path, data, stdin_name), False
    except Exception as exc:  # one file's surprise leaves it untouched and the run goes on
        _warn(f"{relative(name)}: fixes not applied: {unexpected(exc, 'fixed')}")
        if path == STDIN and not diff:
            _stdout(data)
        report = report_of(path, data, stdin_name)
        report.failed = True
        return report, False
    shown = name if path != STDIN else (stdin_name or relative(STDIN))
    for reason in result.skipped:
        _warn(f"{relative(shown)}: {reason}")
    changed = result.text != text
    new_data = (_BOM if data.startswith(_BOM) else b"") + result.text.encode("utf-8")
    if diff:
        if changed:
            _stdout(unified_diff(shown, text, result.text).encode("utf-8"))
        return report_of(path, data, stdin_name), False
    if path == STDIN:
        _stdout(new_data)
        return report_of(path, new_data, stdin_name), changed
    if not changed:
        return report_of(path, data, stdin_name), False
    try:
        write_atomic(path, new_data)
    except WriteError as exc:
        _warn(f"{relative(path)}: fixes not written: {exc}")
        report = report_of(path, data, stdin_name)
        report.unwritable = True
        return report, False
    return report_of(path, new_data, stdin_name), True


def is_json(name: str, text: str) -> bool:
    """JSON is rewritten as JSON: `.json` files, and JSON text whatever the file is called."""
    if name.lower().endswith(".json"):
        return True
    if not text.lstrip().startswith("{"):
        return False
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def unified_diff(name: str, old: str, new: str) -> str:
    shown = relative(name).lstrip("/")
    lines = difflib.unified_diff(
        old.splitlines(keepends=True),
        new.splitlines(keepends=True),
        fromfile=f"a/{shown}",
        tofile=f"b/{shown}",
    )
    return "".join(
        line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines
    )


def write_atomic(path: str, data: bytes) -> None:
    """Replace the file's content with `data` in one step, keeping its mode (setuid, setgid and
    sticky bits included) and, where allowed, its owner. Symbolic links are followed: the file
    they point to is replaced.

    A file with several hard links is written through its own inode instead, since a rename
    would leave the other names holding the old text: the new content is first written and
    synced beside it, so an interrupted write leaves a complete copy to recover from."""
    target = os.path.realpath(path)
    folder = os.path.dirname(target)
    try:
        st = os.stat(target)
        if not _writable(target, st.st_mode):
            raise WriteError("the file is read-only")
        if not _writable(folder, os.stat(folder).st_mode):
            raise WriteError(f"the folder {relative(folder)} is read-only")
        fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(target)}.", dir=folder)
    except OSError as exc:
        raise WriteError(exc.strerror or str(exc)) from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if st.st_nlink > 1:
            try:
                _write_through(target, data)
            except OSError as exc:
                raise WriteError(
                    f"{exc.strerror or exc}; the fixed text is kept in {relative(tmp)}"
                ) from None
            os.unlink(tmp)
            return
        with contextlib.suppress(OSError):  # only root may give a file to another owner
            os.chown(tmp, st.st_uid, st.st_gid)
        # After chown, which clears the setuid and setgid bits.
        os.chmod(tmp, stat.S_IMODE(st.st_mode))
        os.replace(tmp, target)
    except BaseException as exc:
        if not isinstance(exc, WriteError):
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        if isinstance(exc, OSError):
            raise WriteError(exc.strerror or str(exc)) from None
        raise
    _sync(folder)


def _write_through(target: str, data: bytes) -> None:
    """Overwrite a file in place (same inode, so every hard link sees it), then cut it to size."""
    fd = os.open(target, os.O_WRONLY)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.ftruncate(fd, len(data))
        os.fsync(fd)
    finally:
        os.close(fd)


_WRITE_BITS = stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH


def _writable(path: str, mode: int) -> bool:
    """Writable, and not marked read-only: root may write anything, but a file or folder with
    no write bit at all was made read-only on purpose."""
    return os.access(path, os.W_OK) and bool(mode & _WRITE_BITS)


def _sync(folder: str) -> None:
    """Make the rename durable; not every platform or file system can sync a folder."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


def _unreadable(name: str, engine: Engine, message: str) -> FileReport:
    report = FileReport(name, failed=True)
    finding = engine.meta_finding(YAML_INVALID, message)
    if finding is not None:
        report.findings.append(Located(finding, name, 0, 0))
    return report


def _report(
    path: str,
    data: bytes,
    stdin_name: str | None,
    *,
    engine: Engine,
    collector: Collector[Ref] | None,
    held: dict[str, bytes] | None,
) -> FileReport:
    if held is not None and path == STDIN:
        held[path] = data
    report = lint_file(path, engine, data, collector)
    if path == STDIN and stdin_name:
        report.path = stdin_name
        report.findings = [f.replace(file=stdin_name) for f in report.findings]
    return report


def _stdout(data: bytes) -> None:
    sys.stdout.flush()
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()


def _warn(message: str) -> None:
    print(f"mllint: {message}", file=sys.stderr)
