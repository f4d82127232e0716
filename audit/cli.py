"""`mllint audit`: judge what a cluster already runs, report it in any of the linter's formats or
as PolicyReports, and with `--write` publish the PolicyReports in the cluster.

Configuration is the webhook's: the `MLLINT_*` environment (enforcement, exempt namespaces,
judge-controlled, the rules configuration file `MLLINT_CONFIG`), so the audit answers what
admission would. Exit status: 0 nothing at or above the fail level (or `--exit-zero`),
1 findings at or above it, 2 bad arguments, configuration or cluster access.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from mllint.audit import judge, reports
from mllint.audit.cluster import Cluster, ClusterError
from mllint.linter import atomic, output
from mllint.linter.lint import Located
from mllint.rules import ConfigError, Engine, Rule, Severity
from mllint.webhook.decisions import Policy

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2
POLICYREPORT = "policyreport"
PROG = "mllint audit"


def _page_size(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if not 1 <= n <= 10_000:
        raise argparse.ArgumentTypeError(f"{n} is outside 1..10000")
    return n


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=PROG,
        description="Judge the ML workloads a cluster already runs, with the webhook's rules "
        "and configuration; report them, or publish them as PolicyReports.",
    )
    p.add_argument("--kubeconfig", metavar="FILE", help="kubeconfig file to use")
    p.add_argument("--context", metavar="NAME", help="kubeconfig context to use")
    scope = p.add_mutually_exclusive_group()
    scope.add_argument(
        "-n",
        "--namespace",
        action="append",
        metavar="NS",
        help="audit this namespace (repeat for more); default: all namespaces",
    )
    scope.add_argument(
        "-A", "--all-namespaces", action="store_true", help="audit every namespace (default)"
    )
    p.add_argument(
        "--format",
        choices=[*sorted(output.FORMATS), POLICYREPORT],
        default="text",
        help="report format; policyreport prints the PolicyReports --write would apply",
    )
    p.add_argument("--output", "-o", metavar="FILE", help="write the report to FILE")
    p.add_argument(
        "--config",
        metavar="FILE",
        help="rules configuration (default: $MLLINT_CONFIG, as the webhook reads it)",
    )
    p.add_argument(
        "--page-size",
        type=_page_size,
        default=500,
        metavar="N",
        help="objects per list request (default 500, as kubectl)",
    )
    p.add_argument(
        "--write",
        action="store_true",
        help="server-side apply the PolicyReports and delete mllint's stale ones",
    )
    p.add_argument(
        "--report-api",
        choices=sorted(reports.APIS),
        default=reports.WGPOLICY.api_version,
        help=f"PolicyReport API (default {reports.WGPOLICY.api_version})",
    )
    p.add_argument(
        "--field-manager",
        default=reports.FIELD_MANAGER,
        help=f"server-side apply field manager (default {reports.FIELD_MANAGER})",
    )
    p.add_argument(
        "--fail-on",
        choices=[s.value for s in Severity],
        help="lowest severity that makes the exit status 1 (default: the configuration's)",
    )
    p.add_argument(
        "--exit-zero", action="store_true", help="exit 0 even with findings (a CronJob's audit)"
    )
    p.add_argument(
        "--quiet",
        "-q",
        action="store_true",
        help="print no report, only the summary line on stderr (with --write, in a CronJob)",
    )
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    try:
        return run(args)
    except (ConfigError, ClusterError) as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


def _settings(args: argparse.Namespace) -> Any:
    from pydantic import ValidationError
    from pydantic_settings import SettingsError

    from mllint.webhook.settings import WebhookSettings

    try:
        settings = WebhookSettings()
    except SettingsError as exc:
        # A value that is not JSON where JSON is expected (lists and maps).
        raise ConfigError(f"the MLLINT_* environment: {exc}") from None
    except ValidationError as exc:
        problems = "; ".join(
            f"MLLINT_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}" for e in exc.errors()
        )
        raise ConfigError(f"the MLLINT_* environment: {problems}") from None
    if args.config:
        settings = settings.model_copy(update={"config": Path(args.config)})
    return settings


def run(args: argparse.Namespace) -> int:
    from mllint.webhook.install import InstallError, connect
    from mllint.webhook.settings import load_rules_config

    started = time.monotonic()
    settings = _settings(args)
    config = load_rules_config(settings.config)
    if args.fail_on:
        config = config.replace(fail_on=Severity(args.fail_on))
    engine = Engine(config, today=dt.date.today)
    policy = Policy(engine.registry, settings.enforcement)
    own = settings.own_namespace()
    exempt = (*settings.exempt_namespaces, *((own,) if own else ()))
    try:
        cluster = Cluster(connect(args.kubeconfig, args.context))
    except InstallError as exc:
        raise ClusterError(str(exc)) from None
    want_reports = args.write or args.format == POLICYREPORT
    audit = judge.run(
        cluster,
        engine,
        namespaces=args.namespace,
        page_size=args.page_size,
        exempt_namespaces=exempt,
        judge_controlled=settings.judge_controlled,
        keep_clean=want_reports,
    )
    api = reports.APIS[args.report_api]
    builder = reports.Builder(api, policy, engine.registry, dt.datetime.now(dt.UTC))
    written = (
        reports.write(cluster, api, builder.reports(audit), args.namespace, args.field_manager)
        if args.write
        else None
    )
    result = _run_of(audit, config.fail_on, cluster.host, engine.registry.rules)
    if not args.quiet:
        text = (
            _policyreports(builder.reports(audit))
            if args.format == POLICYREPORT
            else output.FORMATS[args.format](result, False)
        )
        _emit(text, args.output)
    print(_log_line(audit, result, cluster, written, time.monotonic() - started), file=sys.stderr)
    if args.exit_zero:
        return EXIT_OK
    return EXIT_FINDINGS if result.failing else EXIT_OK


def _run_of(
    audit: judge.Audit, fail_on: Severity, host: str, rules: tuple[Rule, ...]
) -> output.Run:
    located = [Located(f, str(ref), 0, 0) for ref, f in audit.findings]
    located.sort(key=lambda f: (f.file, f.finding.code, f.finding.pointer))
    return output.Run(
        located,
        files=0,
        documents=audit.judged,
        objects=audit.judged,
        skipped=0,
        failed_files=0,
        fail_on=fail_on,
        rules=rules,
        cluster=host,
    )


def _policyreports(built: Iterable[dict[str, Any]]) -> str:
    import yaml

    return yaml.safe_dump_all(built, sort_keys=False, explicit_start=True)


def _emit(text: str, path: str | None) -> None:
    if not path:
        sys.stdout.write(text)
        return
    try:
        atomic.write(path, [text])
    except OSError as exc:
        raise ConfigError(f"--output {path}: cannot write: {exc.strerror or exc}") from None


def _log_line(
    audit: judge.Audit,
    result: output.Run,
    cluster: Cluster,
    written: reports.Written | None,
    seconds: float,
) -> str:
    sev = result.by_severity
    fields: dict[str, object] = {
        "kinds": len(audit.resources),
        "objects": audit.objects,
        "judged": audit.judged,
        "controlled": audit.controlled,
        "exempt": audit.exempt,
        "deleting": audit.deleting,
        "findings": len(result.findings),
        "errors": sev.get("error", 0),
        "warnings": sev.get("warning", 0),
        "info": sev.get("info", 0),
        "pages": cluster.stats.pages,
        "requests": cluster.stats.requests,
    }
    if written is not None:
        fields |= {"reports_applied": written.applied, "reports_removed": written.removed}
    fields["duration_s"] = f"{seconds:.2f}"
    return "mllint audit: " + " ".join(f"{k}={v}" for k, v in fields.items())
