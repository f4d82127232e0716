"""The language server as an editor runs it: the installed `mllint lsp`, started as a process and
driven over stdio by pytest-lsp's client, with a workspace folder on disk."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

# The tests import their helpers (lsp_helpers.py, beside this file) by name, and pytest's
# importlib import mode puts no test folder on sys.path.
sys.path.insert(0, str(Path(__file__).parent))

from installed import MLLINT
from lsp_helpers import Editor


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    folder = tmp_path / "workspace"
    folder.mkdir()
    return folder


@pytest_lsp.fixture(config=ClientServerConfig(server_command=[MLLINT, "lsp"]))
async def client(lsp_client: LanguageClient, workspace: Path) -> AsyncIterator[None]:
    await lsp_client.initialize_session(
        types.InitializeParams(
            capabilities=types.ClientCapabilities(),
            root_uri=workspace.as_uri(),
            workspace_folders=[types.WorkspaceFolder(uri=workspace.as_uri(), name="workspace")],
        )
    )
    yield
    await lsp_client.shutdown_session()


@pytest.fixture
def editor(client: LanguageClient) -> Editor:
    return Editor(client)
