"""`mllint certs`, `mllint webhook-config` and `mllint install`: what puts the webhook in a cluster.

Each takes the arguments after its subcommand name and returns the exit status:
0 done, 1 the action failed (a file could not be written, the cluster refused), 2 bad input
(arguments, unreadable or unusable certificate files, no kubeconfig).
"""

from __future__ import annotations

import argparse
import re
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

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
from mllint.webhook.settings import load_rules_config

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
        required=True,
        metavar="DIR",
        help="directory written by `mllint certs --out DIR`",
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
    try:
        kinds = _kinds(args)
        served = tls.read(args.cert_dir, args.service, args.namespace)
    except (ConfigError, tls.CertError) as exc:
        return _fail(prog, str(exc), 2)
    objects = installer.plan(_options(args, ca_bundle=served.ca), served, args.secret_name, kinds)
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
