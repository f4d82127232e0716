"""Fixtures of the audit tests: a local API server holding corpus objects, and a kubeconfig
that points the real `kubernetes` client at it."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# The tests import their helpers (apiserver.py, beside this file) by name, and pytest's
# importlib import mode puts no test folder on sys.path.
sys.path.insert(0, str(Path(__file__).parent))

from apiserver import CORPUS, APIServer, corpus_objects, default_resources, kubeconfig, serve


@pytest.fixture(scope="session")
def corpus() -> list[tuple[str, dict[str, Any]]]:
    if not CORPUS.is_dir():
        pytest.skip(f"the shared corpus is not at {CORPUS}")
    return corpus_objects()


@pytest.fixture
def api() -> Iterator[APIServer]:
    with serve(APIServer(default_resources())) as running:
        yield running


@pytest.fixture
def config(api: APIServer, tmp_path: Path) -> Path:
    return kubeconfig(tmp_path / "kubeconfig", api.url)
