"""The rule tests share fixture_tools.py, beside this file; pytest's importlib import mode puts
no test folder on sys.path, so it is put there for them."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
