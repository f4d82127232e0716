"""The rule registry: an explicit tuple of rule modules, in code order. Codes are never reused."""

from types import ModuleType

from mllint.rules.catalog import (
    duplicate_key,
    gpu_not_in_limits,
    suppression_invalid,
    yaml_invalid,
)
from mllint.rules.model import Rule

MODULES: tuple[ModuleType, ...] = (
    yaml_invalid,
    duplicate_key,
    suppression_invalid,
    gpu_not_in_limits,
)

RULES: tuple[Rule, ...] = tuple(m.RULE for m in MODULES)

YAML_INVALID: Rule = yaml_invalid.RULE
DUPLICATE_KEY: Rule = duplicate_key.RULE
SUPPRESSION_INVALID: Rule = suppression_invalid.RULE
