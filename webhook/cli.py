"""`mllint certs`, `mllint webhook-config`, `mllint install` and `mllint export`: what puts the
webhook, or the admission policies that stand in for it, in a cluster.

Each takes the arguments after its subcommand name and returns the exit status:
0 done, 1 the action failed (a file could not be written, the cluster refused), 2 bad input
(arguments, unreadable or unusable certificate files, no kubeconfig).
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import sys
import tempfile
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from mllint.rules import ConfigError
from mllint.webhook import certs as tls
from mllint.webhook import install as installer
from mllint.webhook.config_objects import (
    CONFIGURATION,
    NAMESPACE,
    SECRET,
    SERVICE,
    AdmissionKind,
    WebhookOptions,
    admission_kinds,
    tls_secret,
    webhook_configurations,
)
from mllint.webhook.settings import FailureMode, WebhookSettings, load_rules_config

if TYPE_CHECKING:
    from mllint.webhook.policies import Which

# A Service or namespace name is an RFC 1123 label.
_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
# Object names (the configurations', the Secret's) are RFC 1123 subdomains.
_SUBDOMAIN = re.compile(
    r"(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
)


def _label(value: str) -> str:
    if not _LABEL.fullmatch(value):
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a valid name (lowercase letters, digits and '-', at most 63)"
        )
    return value


def _subdomain(value: str) -> str:
    if not _SUBDOMAIN.fullmatch(value):
        raise argparse.ArgumentTypeError(f"{value!r} is not a valid Kubernetes object name")
    return value


def _whole(value: str, low: int, high: int | None, what: str) -> int:
    try:
        n = int(value)
    except ValueError:
        n = low - 1
    if n < low or (high is not None and n > high):
        raise argparse.ArgumentTypeError(f"{value!r} is not {what}")
    return n


def _positive(value: str) -> int:
    return _whole(value, 1, None, "a whole number of days (1 or more)")


def _timeout(value: str) -> int:
    # The API server accepts 1 to 30 seconds.
    return _whole(value, 1, 30, "a number of seconds from 1 to 30")


def _certificate_ref(value: str) -> str:
    ns, _, name = value.partition("/")
    if not (_LABEL.fullmatch(ns) and _SUBDOMAIN.fullmatch(name)):
        raise argparse.ArgumentTypeError(f"{value!r} is not NAMESPACE/CERTIFICATE")
    return value


def _service_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--service", type=_label, default=SERVICE, help=f"webhook Service name (default {SERVICE})"
    )
    parser.add_argument(
        "--namespace",
        type=_label,
        default=NAMESPACE,
        help=f"namespace of the Service (default {NAMESPACE})",
    )


def _webhook_args(parser: argparse.ArgumentParser) -> None:
    _service_args(parser)
    parser.add_argument(
        "--name",
        type=_subdomain,
        default=CONFIGURATION,
        help=f"name of both webhook configurations (default {CONFIGURATION})",
    )
    parser.add_argument(
        "--failure-policy",
        choices=("Ignore", "Fail"),
        default="Ignore",
        help="what the API server does when the webhook cannot answer: Ignore admits the "
        "object unchecked (default), Fail rejects it; see docs/install.md",
    )
    parser.add_argument(
        "--timeout",
        type=_timeout,
        default=5,
        metavar="SECONDS",
        help="how long the API server waits for an answer, 1-30 (default 5)",
    )
    parser.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="the rules configuration mllint serve runs with (MLLINT_CONFIG), so that the "
        "custom kinds it declares are sent to the webhook too",
    )
    parser.add_argument(
        "--exempt-namespace",
        action="append",
        default=[],
        type=_label,
        metavar="NS",
        help="namespace the webhook never sees, besides kube-system, kube-public, "
        "kube-node-lease and its own (repeatable)",
    )


def _options(args: argparse.Namespace, **extra: Any) -> WebhookOptions:
    return WebhookOptions(
        service=args.service,
        namespace=args.namespace,
        name=args.name,
        failure_policy=args.failure_policy,
        timeout_seconds=args.timeout,
        exempt_namespaces=tuple(args.exempt_namespace),
        **extra,
    )


def _kinds(args: argparse.Namespace) -> list[AdmissionKind]:
    """The engine's admission kinds under the rules configuration named by --config."""
    return admission_kinds(load_rules_config(args.config))


def _dump(objects: Sequence[dict[str, Any]], header: str = "") -> str:
    return header + yaml.safe_dump_all(objects, sort_keys=False, default_flow_style=False)


def _fail(prog: str, message: str, code: int) -> int:
    print(f"{prog}: error: {message}", file=sys.stderr)
    return code


def certs(argv: list[str]) -> int:
    prog = "mllint certs"
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Create a CA and a serving certificate (ECDSA P-256) for the webhook "
        "Service, valid for NAME, NAME.NS, NAME.NS.svc and NAME.NS.svc.cluster.local.",
    )
    _service_args(parser)
    out = parser.add_mutually_exclusive_group(required=True)
    out.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help="write ca.crt, tls.crt and tls.key (mode 0600) into DIR",
    )
    out.add_argument(
        "--secret",
        action="store_true",
        help="print a kubernetes.io/tls Secret holding them instead of writing files",
    )
    parser.add_argument(
        "--secret-name",
        type=_subdomain,
        default=SECRET,
        help=f"name of the Secret printed by --secret (default {SECRET})",
    )
    parser.add_argument(
        "--days",
        type=_positive,
        default=365,
        help="validity of the serving certificate in days (default 365)",
    )
    parser.add_argument(
        "--ca-days", type=_positive, default=3650, help="validity of the CA in days (default 3650)"
    )
    parser.add_argument(
        "--force", action="store_true", help="replace certificate files already in DIR"
    )
    args = parser.parse_args(argv)
    try:
        made = tls.generate(args.service, args.namespace, days=args.days, ca_days=args.ca_days)
    except tls.CertError as exc:
        return _fail(prog, str(exc), 2)
    if args.secret:
        sys.stdout.write(_dump([tls_secret(made, args.secret_name, args.namespace)]))
        return 0
    try:
        written = tls.write(made, args.out, overwrite=args.force)
    except tls.CertError as exc:
        return _fail(prog, str(exc), 1)
    until = tls.load_certificates(made.cert, "tls.crt")[0].not_valid_after_utc
    print(f"wrote {', '.join(str(p) for p in written)}")
    print(f"the serving certificate expires on {until:%Y-%m-%d}; renew it before then")
    return 0


def webhook_config(argv: list[str]) -> int:
    prog = "mllint webhook-config"
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Print the ValidatingWebhookConfiguration and MutatingWebhookConfiguration "
        "that send the kinds mllint checks to its Service.",
    )
    _webhook_args(parser)
    ca = parser.add_mutually_exclusive_group(required=True)
    ca.add_argument("--ca-file", type=Path, metavar="FILE", help="PEM CA bundle to put in caBundle")
    ca.add_argument(
        "--inject-ca-from",
        type=_certificate_ref,
        metavar="NS/CERTIFICATE",
        help="leave caBundle to cert-manager's CA injector, from this Certificate",
    )
    args = parser.parse_args(argv)
    extra: dict[str, Any] = {"inject_ca_from": args.inject_ca_from}
    try:
        kinds = _kinds(args)
        if args.ca_file is not None:
            extra["ca_bundle"] = tls.load_ca_bundle(args.ca_file)
    except (ConfigError, tls.CertError) as exc:
        return _fail(prog, str(exc), 2)
    header = (
        f"# Generated by `mllint webhook-config {shlex.join(argv)}`; "
        "regenerate it rather than edit it.\n"
    )
    sys.stdout.write(_dump(webhook_configurations(_options(args, **extra), kinds), header))
    return 0


def install(argv: list[str]) -> int:
    prog = "mllint install"
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Create or update, by server-side apply, the webhook's namespace, its TLS "
        "Secret and both webhook configurations.",
    )
    _webhook_args(parser)
    parser.add_argument(
        "--cert-dir",
        type=Path,
        metavar="DIR",
        help="directory written by `mllint certs --out DIR` (required unless --policies)",
    )
    parser.add_argument(
        "--policies",
        action="store_true",
        help="apply the rules as ValidatingAdmissionPolicies (Kubernetes 1.30+) instead of the "
        "webhook: no server, namespace or certificate (see docs/policies.md)",
    )
    parser.add_argument(
        "--mutating-policies",
        action="store_true",
        help="with --policies, also apply the safe fixes as MutatingAdmissionPolicies "
        "(Kubernetes 1.36+)",
    )
    parser.add_argument(
        "--secret-name",
        type=_subdomain,
        default=SECRET,
        help=f"name of the TLS Secret the Deployment mounts (default {SECRET})",
    )
    parser.add_argument("--kubeconfig", metavar="FILE", help="kubeconfig file to use")
    parser.add_argument("--context", metavar="NAME", help="kubeconfig context to use")
    parser.add_argument(
        "--field-manager",
        default="mllint",
        help="server-side apply field manager (default mllint)",
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="print the objects instead of applying them (the Secret includes the private key)",
    )
    args = parser.parse_args(argv)
    if args.mutating_policies and not args.policies:
        parser.error("--mutating-policies needs --policies")
    if args.policies:
        try:
            objects = _policy_objects(args, ("vap", "map") if args.mutating_policies else ("vap",))
        except (ConfigError, ValueError) as exc:
            return _fail(prog, str(exc), 2)
    else:
        if args.cert_dir is None:
            parser.error("--cert-dir is required (or --policies)")
        try:
            kinds = _kinds(args)
            served = tls.read(args.cert_dir, args.service, args.namespace)
        except (ConfigError, tls.CertError) as exc:
            return _fail(prog, str(exc), 2)
        options = _options(args, ca_bundle=served.ca)
        objects = installer.plan(options, served, args.secret_name, kinds)
    if args.dry_run:
        sys.stdout.write(_dump(objects))
        return 0
    try:
        api_client = installer.connect(args.kubeconfig, args.context)
        for applied in installer.apply(objects, api_client, args.field_manager):
            print(applied)
    except installer.InstallError as exc:
        return _fail(prog, str(exc), exc.code)
    return 0


def _settings(args: argparse.Namespace) -> WebhookSettings:
    """The webhook's settings (`MLLINT_*`, as `mllint serve` reads them) under the flags given;
    raises ValueError, worded for the user, on a bad setting."""
    from pydantic import ValidationError

    try:
        settings = WebhookSettings()
    except ValidationError as exc:
        problems = "; ".join(
            f"MLLINT_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}" for e in exc.errors()
        )
        raise ValueError(f"bad webhook setting: {problems}") from None
    update: dict[str, Any] = {"failure_mode": _FAILURE_MODES[args.failure_policy]}
    if args.config is not None:
        update["config"] = args.config
    extra = tuple(getattr(args, "exempt_namespace", ()))
    if extra:
        update["exempt_namespaces"] = (*settings.exempt_namespaces, *extra)
    if settings.namespace is None:
        update["namespace"] = args.namespace
    return settings.model_copy(update=update)


_FAILURE_MODES = {"Ignore": FailureMode.OPEN, "Fail": FailureMode.CLOSED}


def _policy_objects(args: argparse.Namespace, which: Sequence[Which]) -> list[dict[str, Any]]:
    from mllint.rules import Engine
    from mllint.webhook.policies import export as export_policies

    settings = _settings(args)
    engine = Engine(load_rules_config(settings.config))
    return [o for w in which for o in export_policies(engine, settings, w).objects]


def export(argv: list[str]) -> int:
    prog = "mllint export"
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Print mllint's rules as admission policies the API server evaluates itself: "
        "ValidatingAdmissionPolicies (vap, Kubernetes 1.30+) or, for the safe fixes, "
        "MutatingAdmissionPolicies (map, Kubernetes 1.36+), each with its binding. Enforcement "
        "actions, exemptions and the rules that mutate are the webhook's settings (MLLINT_*). "
        "The rules that cannot be exported are listed, with the reason, at the top of the output.",
    )
    parser.add_argument("what", choices=("vap", "map"), help="vap: validating; map: mutating")
    parser.add_argument(
        "--config", type=Path, metavar="FILE", help="the rules configuration (YAML)"
    )
    parser.add_argument(
        "-o", "--output", type=Path, metavar="FILE", help="write to FILE instead of stdout"
    )
    parser.add_argument(
        "--failure-policy",
        choices=("Ignore", "Fail"),
        help="what the API server does when a policy cannot be evaluated (an error, the cost "
        "budget exceeded): Ignore admits, Fail rejects (default: from MLLINT_FAILURE_MODE, "
        "open: Ignore)",
    )
    parser.add_argument(
        "--exempt-namespace",
        action="append",
        default=[],
        metavar="GLOB",
        help="namespace the policies leave alone, besides the webhook's exempt ones (repeatable)",
    )
    args = parser.parse_args(argv)
    args.namespace = NAMESPACE
    if args.failure_policy is None:
        failure_mode = WebhookSettings.model_fields["failure_mode"].default
        args.failure_policy = "Ignore" if failure_mode is FailureMode.OPEN else "Fail"
    from mllint.rules import Engine
    from mllint.webhook.policies import export as export_policies

    try:
        settings = _settings(args)
        engine = Engine(load_rules_config(settings.config))
    except (ConfigError, ValueError) as exc:
        return _fail(prog, str(exc), 2)
    done = export_policies(engine, settings, args.what)
    kind = "ValidatingAdmissionPolicies" if args.what == "vap" else "MutatingAdmissionPolicies"
    header = [
        f"# Generated by `mllint export {shlex.join(argv)}`; regenerate it rather than edit it.",
        f"# {kind} for: {', '.join(done.covered) or 'no rule'}.",
    ]
    if done.partial:
        header.append("# Exported for some of the kinds they judge; left out:")
        header += [f"#   {s.code} {s.name}: {s.reason}" for s in done.partial]
    if done.undecided:
        header.append(
            "# Partly exported: these leave alone (admit without judging) the pods they cannot"
            " decide as the engine does, a missed finding, never a false one:"
        )
        for code in sorted({s.reason for s in done.undecided}):
            rules = ", ".join(s.code for s in done.undecided if s.reason == code)
            header += textwrap.wrap(
                f"{rules}: {code}",
                96,
                initial_indent="#   ",
                subsequent_indent="#     ",
                break_on_hyphens=False,
            )
    if done.skipped:
        header.append("# Not exported:")
        header += [f"#   {s.code} {s.name}: {s.reason}" for s in done.skipped]
    text = (
        _dump(done.objects, "\n".join(header) + "\n") if done.objects else "\n".join(header) + "\n"
    )
    if args.output is None:
        sys.stdout.write(text)
    else:
        try:
            _write_atomically(args.output, text)
        except OSError as exc:
            return _fail(prog, f"{args.output}: cannot write: {exc.strerror}", 1)
    print(
        f"{prog}: {len(done.covered)} rule(s) exported as {len(done.objects)} objects; "
        f"{len(done.skipped)} not exported (see the header of the output)",
        file=sys.stderr,
    )
    return 0


def _write_atomically(path: Path, text: str) -> None:
    """Write beside the target, then rename over it: never a half-written file. A device or a
    pipe at the path (/dev/null, /dev/stdout) is written to as it is, never renamed over."""
    if path.exists() and not path.is_file():
        with path.open("w", encoding="utf-8") as out:
            out.write(text)
        return
    fd, temporary = tempfile.mkstemp(dir=path.parent or Path("."), prefix=f".{path.name}.")
    try:
        os.chmod(temporary, _mode(path))
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _mode(path: Path) -> int:
    """The file's mode if it exists, else what the umask leaves of rw-rw-rw-."""
    try:
        return path.stat().st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask
