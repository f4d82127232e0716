"""Team rules in Python: packages that declare rule modules under the `mllint.rules` entry-point
group, loaded only when a configuration names them (`plugins: [name]`).

A plugin module is shaped like a built-in catalog module: a docstring with the rule's page, a
`check(scope, options)` generator, and `RULE = rule(check, code=..., ...)` (or `RULES`, a tuple
of rules). Its codes are in the range reserved for team rules (`X` and three digits), so they
never clash with built-in codes. Loading a module is importing it, as the catalog is imported;
the entry point is looked up in the installed distributions' metadata.
"""

from __future__ import annotations

import functools
import re

from mllint.rules.config import CUSTOM_CODE, ConfigError
from mllint.rules.model import Rule

GROUP = "mllint.rules"


@functools.lru_cache(maxsize=64)
def load(names: tuple[str, ...]) -> tuple[Rule, ...]:
    """The rules of the named plugins, in order; ConfigError names the plugin and the problem."""
    if not names:
        return ()
    from importlib.metadata import entry_points

    found = {ep.name: ep for ep in entry_points(group=GROUP)}
    rules: list[Rule] = []
    for name in names:
        where = f"plugins: {name!r}"
        ep = found.get(name)
        if ep is None:
            known = ", ".join(sorted(found)) or "none is installed"
            raise ConfigError(f"{where}: no {GROUP} entry point by that name ({known})")
        try:
            module = ep.load()
        except Exception as exc:  # a broken plugin is the user's configuration problem
            raise ConfigError(f"{where}: cannot load {ep.value}: {exc}") from None
        declared = getattr(module, "RULES", None)
        if declared is None:
            declared = (getattr(module, "RULE", None),)
        for rule in declared:
            if not isinstance(rule, Rule):
                raise ConfigError(f"{where}: {ep.value} has no RULE or RULES of mllint rules")
            if not re.fullmatch(CUSTOM_CODE, rule.code):
                raise ConfigError(
                    f"{where}: rule code {rule.code!r} is outside the range for team rules "
                    "(X and three digits, such as X201)"
                )
            rules.append(rule.replace(origin=f"plugin {name} ({ep.value})"))
    return tuple(rules)
