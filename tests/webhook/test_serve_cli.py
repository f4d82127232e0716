"""`mllint serve`: its flags and MLLINT_* environment variables, and start-up problems reported
as one line and exit status 2 before the port is bound."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from webhook_helpers import PKI, SERVE, Running, deployment, review, start_process

from mllint.webhook.server import main
from mllint.webhook.settings import Action, FailureMode, WebhookSettings


def fails(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("mllint serve: error: ") and "Traceback" not in err
    return err


def certs(pki: PKI) -> list[str]:
    return ["--cert-file", str(pki.cert), "--key-file", str(pki.key)]


def test_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "--cert-file" in out and "MLLINT_CERT_FILE" in out


def test_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--port", "eighty"]) == 2
    assert "invalid int value" in capsys.readouterr().err


def test_a_certificate_is_required(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MLLINT_CERT_FILE", raising=False)
    assert "give --cert-file and --key-file" in fails(capsys, [])


def test_unreadable_certificate(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    missing = tmp_path / "nope.crt"
    err = fails(capsys, ["--cert-file", str(missing), "--key-file", str(missing)])
    assert f"cannot read {missing}" in err


def test_key_of_another_certificate(
    capsys: pytest.CaptureFixture[str], pki: PKI, tmp_path: Path
) -> None:
    _, other_key, _ = pki.ca.issue(tmp_path / "other", ["other"])
    err = fails(capsys, ["--cert-file", str(pki.cert), "--key-file", str(other_key)])
    assert "KEY_VALUES_MISMATCH" in err and "the PEM key it was issued for" in err


def test_not_a_certificate(capsys: pytest.CaptureFixture[str], pki: PKI, tmp_path: Path) -> None:
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    assert "cannot use the certificate" in fails(
        capsys, ["--cert-file", str(junk), "--key-file", str(pki.key)]
    )


def test_bad_client_ca(capsys: pytest.CaptureFixture[str], pki: PKI, tmp_path: Path) -> None:
    junk = tmp_path / "ca.pem"
    junk.write_text("junk\n")
    assert "cannot use the client CA" in fails(capsys, [*certs(pki), "--client-ca-file", str(junk)])


@pytest.mark.parametrize(
    "config,expected",
    [
        ("select: [ML101\n", "mllint.yaml:2:1: not valid YAML"),
        ("selct: [ML101]\n", "unknown key 'selct'; did you mean 'select'?"),
        ("select: [ML1O1]\n", "select: 'ML1O1' matches no rule"),
        ("- a list\n", "the configuration must be a mapping"),
    ],
)
def test_bad_rules_config(
    capsys: pytest.CaptureFixture[str], pki: PKI, tmp_path: Path, config: str, expected: str
) -> None:
    path = tmp_path / "mllint.yaml"
    path.write_text(config)
    assert expected in fails(capsys, [*certs(pki), "--config", str(path)])


def test_missing_rules_config(capsys: pytest.CaptureFixture[str], pki: PKI, tmp_path: Path) -> None:
    path = tmp_path / "absent.yaml"
    assert f"{path}: cannot read" in fails(capsys, [*certs(pki), "--config", str(path)])


@pytest.mark.parametrize(
    "variable",
    [
        ("MLLINT_ENFORCEMENT", '{"gpu-not-in-limit": "deny"}', "did you mean 'gpu-not-in-limits'"),
        ("MLLINT_ENFORCEMENT", '{"ML101": "block"}', "enforcement.ML101 (MLLINT_ENFORCEMENT)"),
        (
            "MLLINT_ENFORCEMENT",
            "ML602=deny",
            """MLLINT_ENFORCEMENT is not valid JSON; lists and maps are given as JSON, """
            """for example MLLINT_ENFORCEMENT='{"ML602": "deny"}'""",
        ),
        ("MLLINT_EXEMPT_GROUPS", "admins,ops", "MLLINT_EXEMPT_GROUPS is not valid JSON"),
        ("MLLINT_MUTATE", '["ML9"]', "mutate: 'ML9' matches no rule"),
        ("MLLINT_FAILURE_MODE", "sometimes", "failure_mode (MLLINT_FAILURE_MODE)"),
        ("MLLINT_PORT", "99999", "port (MLLINT_PORT)"),
    ],
)
def test_bad_environment(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    pki: PKI,
    variable: tuple[str, str, str],
) -> None:
    name, value, expected = variable
    monkeypatch.setenv(name, value)
    assert expected in fails(capsys, certs(pki))


def test_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLLINT_FAILURE_MODE", "closed")
    monkeypatch.setenv("MLLINT_AUDIT_MODE", "true")
    monkeypatch.setenv("MLLINT_ENFORCEMENT", '{"ML101": "warn"}')
    monkeypatch.setenv("MLLINT_EXEMPT_NAMESPACES", '["kube-system", "team-*"]')
    monkeypatch.setenv("MLLINT_EXEMPT_GROUPS", '["platform"]')
    monkeypatch.setenv("MLLINT_PORT", "9443")
    settings = WebhookSettings()
    assert settings.failure_mode is FailureMode.CLOSED and settings.audit_mode
    assert settings.enforcement == {"ML101": Action.WARN}
    assert settings.exempt_namespaces == ("kube-system", "team-*")
    assert settings.exempt_groups == ("platform",) and settings.port == 9443


def test_flags_win_over_the_environment(tmp_path: Path, pki: PKI) -> None:
    # An address that cannot be bound: the server only starts if --host (127.0.0.1) wins.
    running = start_process(tmp_path, pki, env={"MLLINT_HOST": "192.0.2.1"})
    try:
        answer = running.validate(review(deployment()))
        assert answer["response"]["allowed"] is True
    finally:
        running.stop()


def test_port_in_use_is_exit_status_1(tmp_path: Path, pki: PKI) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-c", SERVE, *certs(pki), "--host", "127.0.0.1", "--port", str(port)],
            check=False,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 1
    lines = [json.loads(line) for line in result.stderr.splitlines()]
    assert any("address already in use" in line["message"] for line in lines)
    assert "Traceback" not in result.stderr


def test_startup_error_in_a_subprocess(pki: PKI, tmp_path: Path) -> None:
    config = tmp_path / "mllint.yaml"
    config.write_text("select: [\n")
    result = subprocess.run(
        [sys.executable, "-c", SERVE, *certs(pki), "--config", str(config)],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("mllint serve: error: ") and result.stderr.count("\n") == 1


def test_running_server_answers(webhook: Running) -> None:
    assert webhook.validate(review(deployment()))["response"]["allowed"] is True


def test_mllint_serve_command(tmp_path: Path, pki: PKI) -> None:
    """The linter's `mllint` command runs `serve` through its `mllint.commands` entry point."""
    command = Path(sys.executable).with_name("mllint")
    if not command.exists():
        pytest.skip(f"no mllint console script beside {sys.executable}")
    result = subprocess.run(
        [str(command), "serve", "--cert-file", str(tmp_path / "absent.crt"), "--key-file", "k"],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("mllint serve: error: cannot read")
