"""mllint's rule engine: pure functions over plain dicts, with no I/O of any kind.

Front ends (the linter, the admission webhook) hand it decoded Kubernetes objects and get back
findings that point into the object with JSON Pointers, and fixes as JSON Patch operations.
"""

from mllint.rules.config import Config, ConfigError, parse_config
from mllint.rules.engine import REGISTRY, Engine, fix_ops
from mllint.rules.model import Finding, Fix, Role, Rule, Safety, Severity, Violation

__all__ = [
    "REGISTRY",
    "Config",
    "ConfigError",
    "Engine",
    "Finding",
    "Fix",
    "Role",
    "Rule",
    "Safety",
    "Severity",
    "Violation",
    "fix_ops",
    "parse_config",
]
