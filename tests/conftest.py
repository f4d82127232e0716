"""pytest's importlib import mode puts no test folder on sys.path: this one is put there so that
every folder's tests can use the helpers beside it (installed.py)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
