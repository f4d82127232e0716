"""The docs' commands, run as written: README's set-up and pre-commit sections, the webhook
quickstart, and the Dockerfile's install steps. importlib import mode puts no test folder on
sys.path, so this one is put there for its helper modules (the webhook tests use them too)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
