"""Fixtures of the webhook tests: one PKI and one `mllint serve` subprocess per session, and
webhooks in threads for tests that need settings of their own."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from mllint.webhook.review import Admission
from mllint.webhook.settings import WebhookSettings

# The tests import their helpers (webhook_helpers.py, beside this file, and ../docs/dockerfile.py)
# by name, and pytest's importlib import mode puts no test folder on sys.path.
sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "docs"))

from webhook_helpers import (
    PKI,
    RULES_CONFIG,
    SERVING_NAMES,
    Running,
    make_authority,
    start_process,
    start_thread,
)


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PKI:
    directory = tmp_path_factory.mktemp("pki")
    ca = make_authority(directory / "ca")
    cert, key, _ = ca.issue(directory / "serving", SERVING_NAMES)
    return PKI(ca, cert, key, directory)


@pytest.fixture(scope="session")
def rules_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("config") / "mllint.yaml"
    path.write_text(RULES_CONFIG)
    return path


@pytest.fixture(scope="session")
def webhook(
    tmp_path_factory: pytest.TempPathFactory, pki: PKI, rules_config: Path
) -> Iterator[Running]:
    """One `mllint serve` subprocess shared by the tests that need only the defaults."""
    running = start_process(tmp_path_factory.mktemp("serve"), pki, ["--config", str(rules_config)])
    yield running
    running.stop()


@pytest.fixture
def serve(pki: PKI, rules_config: Path) -> Iterator[Callable[..., Running]]:
    """Start a webhook in a thread with settings of the test's own (rules config preset)."""
    started: list[Running] = []

    def start(
        admission: Admission | None = None, cert: tuple[Path, Path] | None = None, **values: Any
    ) -> Running:
        values.setdefault("config", rules_config)
        settings = WebhookSettings(host="127.0.0.1", port=0, **values)
        running = start_thread(settings, pki, admission=admission, cert=cert)
        started.append(running)
        return running

    yield start
    for running in started:
        running.stop()
