"""`mllint`: lint ML workload manifests; `mllint rules`, `mllint rule NAME`; and the subcommands
other mllint packages declare as `mllint.commands` entry points (`mllint serve`, ...).

Exit codes: 0 nothing at or above the fail level, 1 findings at or above it (or a file that
cannot be read), 2 usage or configuration errors.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, TextIO

from mllint.linter import configfile, discover, lint, output
from mllint.linter.discover import Excluder, PathError
from mllint.rules import REGISTRY, Config, ConfigError, Engine, Severity

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2
SUBCOMMANDS = ("rules", "rule")
PLUGIN_COMMANDS = ("serve", "certs", "webhook-config", "install")
"""Subcommands other mllint packages declare as `mllint.commands` entry points. Named here so a
lint run never scans packaging metadata, and so a folder called `certs` does not hide them
(lint it as `./certs`)."""


class UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message}")


def _csv(value: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split(",") if v.strip())


def lint_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="mllint",
        description="Lint Kubernetes manifests of ML workloads (training Jobs, CronJobs, "
        "model servers, autoscalers, ML operators).",
        epilog="Other commands: mllint rules | mllint rule NAME | mllint serve | mllint certs | "
        "mllint webhook-config | mllint install (each with --help).",
    )
    p.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help="files or folders (recursive: *.yaml, *.yml, *.json); - for stdin",
    )
    p.add_argument("--format", choices=sorted(output.FORMATS), default="text")
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
    p.add_argument("--extend-select", type=_csv, metavar="RULES", default=())
    p.add_argument("--ignore", type=_csv, metavar="RULES", default=())
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
        type=int,
        default=0,
        help="worker processes (default: one per core for large runs)",
    )
    color = p.add_mutually_exclusive_group()
    color.add_argument("--color", dest="color", action="store_true", default=None)
    color.add_argument("--no-color", dest="color", action="store_false")
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
    """The subcommand the webhook package declares under that name."""
    from importlib.metadata import entry_points

    for ep in entry_points(group="mllint.commands", name=name):
        try:
            return ep.load()  # type: ignore[no-any-return]
        except ImportError as exc:
            raise UsageError(
                f"mllint {name}: needs the webhook extra (pip install 'mllint[webhook]'): {exc}"
            ) from None
    raise UsageError(f"mllint {name}: not installed (pip install 'mllint[webhook]')")


def build_engine(args: argparse.Namespace) -> tuple[Engine, configfile.LoadedConfig]:
    loaded = configfile.resolve(args.config)
    config: Config = loaded.config
    changes: dict[str, Any] = {}
    if args.select is not None:
        changes["select"] = args.select
    if args.extend_select:
        changes["extend_select"] = config.extend_select + args.extend_select
    if args.ignore:
        changes["ignore"] = config.ignore + args.ignore
    if args.fail_on:
        changes["fail_on"] = Severity(args.fail_on)
    if changes:
        config = dataclasses.replace(config, **changes)
    return Engine(config), replace(loaded, config=config)


def run(args: argparse.Namespace) -> int:
    if not args.paths:
        raise UsageError("mllint: give at least one PATH (a file, a folder, or - for stdin)")
    if args.unsafe_fixes and not (args.fix or args.diff):
        raise UsageError("mllint: --unsafe-fixes goes with --fix or --diff")
    engine, loaded = build_engine(args)
    excluded = Excluder(loaded.config.exclude.paths, loaded.root)
    files = list(discover.discover(args.paths, excluded))
    if args.fix or args.diff:
        from mllint.linter import fixcmd

        reports, fixed = fixcmd.run(files, engine, args)
    else:
        reports, fixed = lint.lint_many(files, engine, args.jobs, args.stdin_filename), 0
    result = output.Run.of(reports, engine.config.fail_on, REGISTRY.rules, fixed)
    # The report goes to stderr when stdout carries a diff or the fixed stdin.
    stream = sys.stderr if args.diff or (args.fix and args.paths == [lint.STDIN]) else sys.stdout
    color = args.color if args.color is not None else _tty(args, stream)
    text = output.FORMATS[args.format](result, color)
    if args.output:
        try:
            Path(args.output).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise UsageError(
                f"mllint: --output {args.output}: cannot write: {exc.strerror or exc}"
            ) from None
    else:
        stream.write(text)
    return EXIT_FINDINGS if result.failing or result.failed_files else EXIT_OK


def _tty(args: argparse.Namespace, stream: TextIO) -> bool:
    # NO_COLOR counts only when set to something (https://no-color.org).
    return (
        args.format == "text"
        and not args.output
        and stream.isatty()
        and not os.environ.get("NO_COLOR")
    )


def entry() -> None:
    sys.exit(main())
