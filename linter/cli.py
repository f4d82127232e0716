"""`mllint`: lint ML workload manifests; `mllint rules`, `mllint rule NAME`; and the subcommands
other mllint packages declare as `mllint.commands` entry points (`mllint serve`, ...).

Exit codes: 0 nothing at or above the fail level, 1 findings at or above it (or a file that
cannot be read), 2 usage or configuration errors.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import functools
import gc
import os
import sys
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from typing import Any, TextIO

from mllint.linter import atomic, configfile, discover, lint, output
from mllint.linter.discover import Excluder, PathError
from mllint.linter.runner import Gathered, Runner, batches
from mllint.rules import REGISTRY, Config, ConfigError, Engine, Severity
from mllint.rules.model import Record, Regex

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2
# What a shell reports for a command ended by SIGPIPE: the report's reader went away.
EXIT_BROKEN_PIPE = 141
SUBCOMMANDS = ("rules", "rule")
PLUGIN_COMMANDS = ("serve", "certs", "webhook-config", "install", "audit", "export", "lsp")
"""Subcommands other mllint packages declare as `mllint.commands` entry points. Named here so a
lint run never scans packaging metadata, and so a folder called `certs` does not hide them
(lint it as `./certs`)."""


TEAM_SELECTOR = Regex(r"^(?:[Xx][0-9]{0,3}|[a-z][a-z0-9]*(?:-[a-z0-9]+)*)$")
"""What may name team rules, which only a configuration declares (`X101`, `X1`, a name)."""


class UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message}")

    def _get_formatter(self) -> argparse.HelpFormatter:
        # argparse's own, but for the width: argparse makes a formatter for every argument
        # added, and its default width comes from `shutil`, which imports compression modules.
        return argparse.HelpFormatter(prog=self.prog, width=_columns() - 2)


def _columns() -> int:
    """The terminal's width as `shutil.get_terminal_size` reads it: $COLUMNS, else the width of
    standard output's terminal, else 80."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns or 80


def _csv(value: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split(",") if v.strip())


def _jobs(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of processes (1 or more)")
    return n


def lint_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="mllint",
        description="Lint Kubernetes manifests of ML workloads (training Jobs, CronJobs, "
        "model servers, autoscalers, ML operators).",
        epilog="Other commands: mllint rules | mllint rule NAME | mllint serve | mllint certs | "
        "mllint webhook-config | mllint install | mllint audit | mllint lsp (each with --help).",
    )
    p.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help="files or folders (recursive: *.yaml, *.yml, *.json); - for stdin",
    )
    p.add_argument(
        "--format",
        choices=sorted(output.FORMATS),
        default="text",
        help="report format (default: text)",
    )
    p.add_argument("--output", "-o", metavar="FILE", help="write the report to FILE")
    p.add_argument(
        "--config",
        metavar="FILE",
        help="config file (default: nearest .mllint.yaml or pyproject.toml)",
    )
    p.add_argument(
        "--select",
        type=_csv,
        metavar="RULES",
        help="comma-separated rule codes, names or code prefixes to run",
    )
    p.add_argument(
        "--extend-select",
        type=_csv,
        metavar="RULES",
        default=(),
        help="comma-separated rules to run besides those selected (for rules off by default)",
    )
    p.add_argument(
        "--ignore",
        type=_csv,
        metavar="RULES",
        default=(),
        help="comma-separated rules not to run; wins over --select and --extend-select",
    )
    p.add_argument(
        "--fail-on",
        choices=[s.value for s in Severity],
        help="lowest severity that makes the exit code 1 (default: warning)",
    )
    p.add_argument("--fix", action="store_true", help="apply safe fixes in place")
    p.add_argument("--unsafe-fixes", action="store_true", help="with --fix/--diff: unsafe too")
    p.add_argument("--diff", action="store_true", help="show the fixes as a diff; write nothing")
    p.add_argument("--stdin-filename", metavar="NAME", help="name to report stdin as")
    p.add_argument(
        "--jobs",
        "-j",
        type=_jobs,
        default=0,
        metavar="N",
        help="worker processes, 1 or more (default: one per core for large runs)",
    )
    p.add_argument(
        "--allow-empty",
        action="store_true",
        help="exit 0 when the paths hold no manifest (default: exit 2)",
    )
    color = p.add_mutually_exclusive_group()
    color.add_argument(
        "--color",
        dest="color",
        action="store_true",
        default=None,
        help="colour the text report (default: on a terminal, unless NO_COLOR is set)",
    )
    color.add_argument(
        "--no-color", dest="color", action="store_false", help="never colour the report"
    )
    p.add_argument("--version", action=_Version, nargs=0, help="show the version and exit")
    return p


class _Version(argparse.Action):
    """`--version`, looking the version up only when asked: reading package metadata costs
    more than the rest of a small lint run's start-up."""

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        from importlib.metadata import PackageNotFoundError, version

        try:
            found = version("mllint")
        except PackageNotFoundError:
            found = "unknown"
        print(f"mllint {found}")
        parser.exit()


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        if args and args[0] in SUBCOMMANDS:
            from mllint.linter import catalog_cli

            return catalog_cli.main(args[0], args[1:])
        if args and args[0] in PLUGIN_COMMANDS:
            return _plugin(args[0])(args[1:])
        return run(lint_parser().parse_args(args))
    except UsageError as exc:
        print(f"{exc}\nTry 'mllint --help'.", file=sys.stderr)
        return EXIT_USAGE
    except (ConfigError, PathError) as exc:
        print(f"mllint: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


def _plugin(name: str) -> Callable[[list[str]], int]:
    """The subcommand another mllint package declares under that name."""
    from importlib.metadata import entry_points

    extra = "lsp" if name == "lsp" else "webhook"
    for ep in entry_points(group="mllint.commands", name=name):
        try:
            return ep.load()  # type: ignore[no-any-return]
        except ImportError as exc:
            raise UsageError(
                f"mllint {name}: needs the {extra} extra (pip install 'mllint[{extra}]'): {exc}"
            ) from None
    raise UsageError(f"mllint {name}: not installed (pip install 'mllint[{extra}]')")


def _adjust(args: argparse.Namespace, config: Config) -> Config:
    """A configuration with the command line's flags on top."""
    changes: dict[str, Any] = {}
    if args.select is not None:
        changes["select"] = args.select
    if args.extend_select:
        changes["extend_select"] = config.extend_select + args.extend_select
    if args.ignore:
        changes["ignore"] = config.ignore + args.ignore
    if args.fail_on:
        changes["fail_on"] = Severity(args.fail_on)
    return config.replace(**changes) if changes else config


def _check_flags(args: argparse.Namespace) -> None:
    if not args.paths:
        raise UsageError("mllint: give at least one PATH (a file, a folder, or - for stdin)")
    if args.unsafe_fixes and not (args.fix or args.diff):
        raise UsageError("mllint: --unsafe-fixes goes with --fix or --diff")
    if args.select == ():
        raise UsageError(
            "mllint: --select names no rule; give rule codes, names or prefixes "
            "(--select ALL runs every rule), or use --ignore to turn rules off"
        )
    for flag, selectors in (
        ("--select", args.select or ()),
        ("--extend-select", args.extend_select),
        ("--ignore", args.ignore),
    ):
        for selector in selectors:
            try:
                REGISTRY.matching(selector, flag)
            except ConfigError:
                # A team rule's name or code: checked against each configuration's rules.
                if not TEAM_SELECTOR.match(selector):
                    raise


class _Group(Record):
    """The files of a run that share one configuration."""

    _fields = ("loaded", "files")

    loaded: configfile.LoadedConfig
    files: list[str]

    def __init__(self, loaded: configfile.LoadedConfig, files: list[str] | None = None) -> None:
        self.loaded = loaded
        self.files = [] if files is None else files


def run(args: argparse.Namespace) -> int:
    _check_flags(args)
    # What start-up built (modules, the rule catalog) lives as long as the run: frozen, it is not
    # scanned again by each full collection, nor written to by forked workers' collections.
    gc.freeze()
    threshold = gc.get_threshold()
    gc.set_threshold(YOUNG_GENERATION, *threshold[1:])
    try:
        return _run(args)
    finally:
        gc.set_threshold(*threshold)
        gc.unfreeze()


YOUNG_GENERATION = 10_000
"""Allocations between collections of the young generation during a run (Python's default is
700). Reading and judging files makes and drops many small containers and no cycles (the
engine's records point back up by weak references; linting the whole corpus leaves no cyclic
garbage), so collecting every 700 allocations scanned objects about to be freed anyway, for
about 4 % of a run's CPU. Larger thresholds save little more and let the peak memory grow (the
corpus copied ten times, one process: 34.2 MiB at 700, 35.0 MiB at 10,000, 38.3 MiB at
50,000). A cycle that does turn up (a plugin's, say) is still collected, later."""


def _run(args: argparse.Namespace) -> int:
    configs = configfile.Configs(args.config, functools.partial(_adjust, args))

    def excluded(path: str) -> bool:
        loaded = configs.of_file(path)
        patterns = loaded.config.exclude.paths
        return bool(patterns) and Excluder(patterns, loaded.root)(path)

    found = discover.Found()
    paths = discover.discover(args.paths, excluded, found, configs.listed)

    def of(path: str) -> configfile.LoadedConfig:
        if path == lint.STDIN:
            named = args.stdin_filename
            return configs.of_folder(os.path.dirname(os.path.abspath(named)) if named else ".")
        return configs.of_file(path)

    if args.fix or args.diff:
        return _fix(args, [(of(p), p) for p in paths], found)
    return _lint(args, ((of(p), p) for p in paths), found)


def _lint(
    args: argparse.Namespace,
    found: Iterable[tuple[configfile.LoadedConfig, str]],
    seen: discover.Found,
) -> int:
    """A plain lint run: files linted as they are found, the report written as it is read."""
    groups: dict[str | None, int] = {}

    def work() -> Iterator[tuple[int, Config, str]]:
        for loaded, path in found:
            yield groups.setdefault(loaded.source, len(groups)), loaded.config, path

    runner = Runner(args.jobs, today=datetime.date.today)
    gathered = Gathered(
        args.stdin_filename,
        keep_paths=args.format == "junit",
        # Stdin named as a file is reported under that file's name, whose findings must then
        # come in one order whichever file's folder is settled first: at the end.
        by_folder=discover.folder_by_folder(args.paths) and not args.stdin_filename,
    )
    try:
        for done in runner.run(batches(work())):
            gathered.add(done, runner.engine(done.batch))
        if not gathered.files and not _empty_allowed(args, seen):
            return EXIT_USAGE
        gathered.set_findings()
        for notes in gathered.notes.values():
            for path, note in notes:
                print(f"{lint.relative(path)}: note: {note}", file=sys.stderr)
        fail_on = min(gathered.fail_on.values(), key=lambda s: s.rank, default=Severity.WARNING)
        result = output.Run(
            _Findings(gathered),
            gathered.files,
            gathered.documents,
            gathered.objects,
            gathered.skipped,
            gathered.failed,
            fail_on,
            tuple(gathered.rules.values()),
            paths=tuple(gathered.paths),
            unreadable=frozenset(gathered.unreadable),
            templates=gathered.templates,
            counted=gathered.tally,
        )
        _write(args, result, sys.stdout)
    finally:
        gathered.spool.close()
    return EXIT_FINDINGS if result.failing or result.failed_files else EXIT_OK


class _Findings(Collection[lint.Located]):
    """A streamed run's findings, read back from its spool in report order."""

    def __init__(self, gathered: Gathered) -> None:
        self._gathered = gathered

    def __len__(self) -> int:
        return self._gathered.tally.findings

    def __iter__(self) -> Iterator[lint.Located]:
        return self._gathered.spool.each()

    def __contains__(self, item: object) -> bool:
        return any(item == f for f in self)


def _fix(
    args: argparse.Namespace, found: list[tuple[configfile.LoadedConfig, str]], seen: discover.Found
) -> int:
    """`--fix` and `--diff`: every file is read before any is written (the whole-set rules'
    fixes need them all), so the run is gathered whole."""
    from mllint.linter import fixcmd

    if not found and not _empty_allowed(args, seen):
        return EXIT_USAGE
    groups: dict[str | None, _Group] = {}
    for loaded, path in found:
        groups.setdefault(loaded.source, _Group(loaded)).files.append(path)
    reports: list[lint.FileReport] = []
    fixed = 0
    fail_on: dict[str, Severity] = {}
    rules = {r.code: r for r in REGISTRY.rules}
    for group in groups.values():
        engine = Engine(group.loaded.config, today=datetime.date.today)
        rules.update((r.code, r) for r in engine.registry.rules)
        done, count = fixcmd.run(group.files, engine, args)
        reports += done
        fixed += count
        fail_on |= {r.path: engine.config.fail_on for r in done}
    for report in reports:
        if report.note:
            print(f"{lint.relative(report.path)}: note: {report.note}", file=sys.stderr)
    order = {p: i for i, (_, p) in enumerate(found)}
    reports.sort(key=lambda r: order.get(r.path, order.get(lint.STDIN, 0)))
    result = output.Run.of(reports, fail_on, tuple(rules.values()), fixed)
    # The report goes to stderr when stdout carries a diff or the fixed stdin.
    stream = sys.stderr if args.diff or (args.fix and args.paths == [lint.STDIN]) else sys.stdout
    _write(args, result, stream)
    broken = result.failed_files or result.unwritable_files
    return EXIT_FINDINGS if result.failing or broken else EXIT_OK


REPORT_PIECE = 1 << 16
"""Characters of a report handed to a stream at a time."""


def _write(args: argparse.Namespace, result: output.Run, stream: TextIO) -> None:
    """The report, piece by piece, to `stream` or to --output. A regular file is written
    beside the target and renamed over it, so that a reader never sees half a report; a device
    or a pipe (`-o /dev/stdout`) is written to as it is."""
    if not args.output:
        color = args.color if args.color is not None else _tty(args, stream)
        # Joined into pieces of REPORT_PIECE: a stream that writes through (PYTHONUNBUFFERED, as
        # container images often set) would make a system call of every finding.
        pieces: list[str] = []
        size = 0
        for chunk in output.STREAMS[args.format](result, color):
            pieces.append(chunk)
            size += len(chunk)
            if size >= REPORT_PIECE:
                stream.write("".join(pieces))
                pieces.clear()
                size = 0
        stream.write("".join(pieces))
        return
    chunks = output.STREAMS[args.format](result, bool(args.color))
    try:
        atomic.write(args.output, chunks)
    except OSError as exc:
        raise UsageError(
            f"mllint: --output {args.output}: cannot write: {exc.strerror or exc}"
        ) from None


def _empty_allowed(args: argparse.Namespace, found: discover.Found) -> bool:
    """Say that a run found nothing to lint. It is an error (a path mistake in CI would pass
    unnoticed) unless --allow-empty, or unless the configuration excluded every file found."""
    paths = " ".join(args.paths)
    if found.excluded:
        print(
            f"mllint: nothing to lint: the configuration excludes every file found in {paths}",
            file=sys.stderr,
        )
        return True
    print(
        f"mllint: no manifests found in {paths} (looked for {', '.join(discover.EXTENSIONS)})"
        + ("" if args.allow_empty else "; pass --allow-empty if that is expected"),
        file=sys.stderr,
    )
    return bool(args.allow_empty)


def _tty(args: argparse.Namespace, stream: TextIO) -> bool:
    # NO_COLOR counts only when set to something (https://no-color.org).
    return (
        args.format == "text"
        and not args.output
        and stream.isatty()
        and not os.environ.get("NO_COLOR")
    )


def entry() -> None:
    """The `mllint` command. A lint run ends without tearing the interpreter down: freeing every
    module, rule and cache costs more than linting a small file, and nothing is left to do once
    the report is flushed (a report file is renamed into place, and the spool is a file
    already unlinked, before `main` returns). Subcommands, which may run servers, end as usual.
    A reader that goes away (`mllint . | head`) ends the run quietly with EXIT_BROKEN_PIPE."""
    args = sys.argv[1:]
    if args and args[0] in SUBCOMMANDS + PLUGIN_COMMANDS:
        sys.exit(main(args))
    try:
        code = main(args)
        sys.stdout.flush()
    except BrokenPipeError:
        code = EXIT_BROKEN_PIPE
    with contextlib.suppress(OSError):
        sys.stderr.flush()
    os._exit(code)
