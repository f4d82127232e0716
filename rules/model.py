"""The vocabulary shared by rules, the engine and both front ends."""

from __future__ import annotations

import enum
import inspect
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from mllint.rules.setrules import SetIndex, SetViolation
    from mllint.rules.workload import Scope


class Severity(enum.StrEnum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        return _RANK[self]


_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.ERROR: 2}


class Safety(enum.StrEnum):
    """How much a fix can be trusted to keep the workload's behaviour (ruff's levels)."""

    SAFE = "safe"
    UNSAFE = "unsafe"


class Role(enum.StrEnum):
    """What a workload does, which decides the rules that apply to it."""

    BATCH = "batch"  # runs to completion: Jobs, training operators
    SERVING = "serving"  # long-running and answers requests: Deployments, model servers
    DAEMON = "daemon"  # one per node: agents, device plugins


DOCS_URL = "https://github.com/mllint/mllint/blob/main/docs/rules/{code}.md"
"""Where each rule's page is published; every finding links to it."""

Op = dict[str, Any]
"""One RFC 6902 operation: `{"op": "add", "path": "/spec/x", "value": 1}`."""


@dataclass(frozen=True, slots=True)
class Fix:
    ops: tuple[Op, ...]
    safety: Safety

    @classmethod
    def safe(cls, *ops: Op) -> Fix:
        return cls(ops, Safety.SAFE)

    @classmethod
    def unsafe(cls, *ops: Op) -> Fix:
        return cls(ops, Safety.UNSAFE)


@dataclass(frozen=True, slots=True)
class Violation:
    """What a rule yields: where (a JSON Pointer into the object), what, and maybe a fix."""

    at: str
    message: str
    fix: Fix | None = None


class NoOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)


def kebab(name: str) -> str:
    return name.replace("_", "-")


class ConfigModel(BaseModel):
    """Base of everything read from configuration: kebab-case keys in files, unknown keys are
    errors, values frozen once read."""

    # defer_build: validators are built on first use, which a run without a config file never
    # reaches (defaults are taken with model_construct), so linting starts faster.
    model_config = ConfigDict(
        extra="forbid",
        alias_generator=kebab,
        populate_by_name=True,
        frozen=True,
        defer_build=True,
    )


class RuleOptions(ConfigModel):
    """Base of a rule's options."""


Check = Callable[["Scope", Any], Iterator[Violation]]
SetCheck = Callable[["SetIndex[Any]", Any], Iterator["SetViolation[Any]"]]


def _no_check(scope: Scope, options: Any) -> Iterator[Violation]:
    yield from ()


@dataclass(frozen=True)
class Rule:
    """A rule's metadata and its pure check.

    `kinds` limits the rule to objects of those kinds (`Kind` or `group/Kind`); `roles` to
    workloads of those roles. Both empty means every object.
    """

    code: str
    name: str
    severity: Severity
    summary: str
    check: Check
    docs: str
    kinds: frozenset[str] = frozenset()
    roles: frozenset[Role] = frozenset()
    workloads_only: bool = False
    options: type[BaseModel] = NoOptions
    fix_safety: Safety | None = None
    enabled_by_default: bool = True
    meta: bool = False
    """Reported by a front end or the engine itself (parse errors, suppression problems)."""
    set_check: SetCheck | None = None
    """The check of a whole-set rule (`setrules`): it reads summaries of every object of a run,
    so `Engine.evaluate`, which sees one object (as the webhook does), skips the rule."""

    @property
    def fixable(self) -> bool:
        return self.fix_safety is not None

    @property
    def whole_set(self) -> bool:
        return self.set_check is not None

    @property
    def url(self) -> str:
        return DOCS_URL.format(code=self.code)


@dataclass(frozen=True, slots=True)
class Finding:
    """A violation stamped by the engine with its rule and configured severity."""

    code: str
    rule: str
    severity: Severity
    message: str
    pointer: str
    kind: str = ""
    name: str = ""
    namespace: str = ""
    fix: Fix | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def fixable(self) -> bool:
        """True when plain `--fix` (safe fixes only) repairs this finding."""
        return self.fix is not None and self.fix.safety is Safety.SAFE


def rule(
    check: Check,
    *,
    code: str,
    name: str,
    severity: Severity,
    summary: str,
    kinds: Iterable[str] = (),
    roles: Iterable[Role] = (),
    workloads_only: bool = False,
    options: type[BaseModel] = NoOptions,
    fix: Safety | None = None,
    enabled_by_default: bool = True,
) -> Rule:
    """Declare a rule from its check; its docs are the docstring of the check's module."""
    return Rule(
        code=code,
        name=name,
        severity=severity,
        summary=summary,
        check=check,
        docs=inspect.cleandoc(sys.modules[check.__module__].__doc__ or ""),
        kinds=frozenset(kinds),
        roles=frozenset(roles),
        workloads_only=workloads_only or bool(roles),
        options=options,
        fix_safety=fix,
        enabled_by_default=enabled_by_default,
    )


def meta_rule(module: str, *, code: str, name: str, severity: Severity, summary: str) -> Rule:
    """Declare a rule that front ends or the engine report; it has no check of its own."""
    docs = inspect.cleandoc(sys.modules[module].__doc__ or "")
    return Rule(
        code=code,
        name=name,
        severity=severity,
        summary=summary,
        check=_no_check,
        docs=docs,
        meta=True,
    )
