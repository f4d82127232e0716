"""Configuration: which rules run, how severe they are, their options and exclusions.

The same model is read from `.mllint.yaml`, `[tool.mllint]` in `pyproject.toml` (by the linter)
and from the webhook's settings. Keys are kebab-case in files; unknown keys are errors.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from typing import Any, TypeVar, get_type_hints

from mllint.rules.exceptions import RuleException
from mllint.rules.model import (
    ConfigModel,
    Role,
    Safety,
    Severity,
    as_dataclasses,
    dataclass_fields,
    kebab,
    option,
)
from mllint.rules.traits import Purpose


class Reach(enum.StrEnum):
    """Which workloads the generic rules (probes, resources, image tags) judge."""

    ML = "ml"  # ML workloads; the probe rules, model servers only
    ALL = "all"  # every workload of the kinds they apply to


class Exclude(ConfigModel):
    """Objects no rule is run on. Each entry is a glob (`fnmatch`); any match excludes."""

    paths: tuple[str, ...] = ()
    namespaces: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    names: tuple[str, ...] = ()


class CustomTemplate(ConfigModel):
    """Where pods live in a custom kind: `path` is a pointer pattern (`*` matches any key or
    index) to a pod template (`metadata` + `spec`), or with `inline` to a pod spec."""

    path: str = option(description="pointer pattern to the pod template", pointer=True)
    inline: bool = False
    role: Role | None = None
    containers: tuple[str, ...] = option(
        (),
        "patterns, relative to the pod spec, of single containers outside containers[]",
        pointer=True,
    )
    restart_policy: str | None = option(
        None, "the pod restartPolicy the kind requires (Never for a Job-like kind)"
    )
    purpose: Purpose | None = option(
        None, "what its pods are (model-server, batch, ml, not-ml), when the kind decides it"
    )


class CustomLifecycle(ConfigModel):
    """Pointer patterns to the kind's lifecycle fields, so the Job rules apply to it."""

    backoff_limit: str | None = option(None, pointer=True)
    active_deadline: str | None = option(None, pointer=True)
    ttl: str | None = option(None, pointer=True)
    concurrency: str | None = option(None, pointer=True)


class CustomKind(ConfigModel):
    """A user's own CRD: where its pod templates live and what its workloads do."""

    api_version: str = option(description="group/version, e.g. example.com/v1")
    kind: str = option()
    role: Role = option()
    templates: tuple[CustomTemplate, ...] = option(min_length=1)
    plural: str | None = None
    lifecycle: CustomLifecycle = option(CustomLifecycle)
    replicas: str | None = option(
        None, "pointer to the replica count of a scalable kind", pointer=True
    )


class RuleScope(enum.StrEnum):
    """What a team rule's condition judges, once each: the object, each pod, each container."""

    OBJECT = "object"
    POD = "pod"
    CONTAINER = "container"


class Enforcement(enum.StrEnum):
    """What a finding of a rule does at admission (the webhook's `Action`)."""

    DENY = "deny"
    WARN = "warn"
    AUDIT = "audit"


CUSTOM_CODE = r"^X[0-9]{3}$"
"""Codes of team rules: `X` and three digits (`X001`-`X999`); no built-in code starts with X."""
RULE_NAME = r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$"


class CustomFix(ConfigModel):
    """A team rule's fix: JSON Patch operations whose paths are relative to the scope's pointer
    (`/imagePullPolicy` of a container), and how safe they are."""

    ops: tuple[dict[str, Any], ...] = option(min_length=1)
    safety: Safety = Safety.UNSAFE


class CustomRule(ConfigModel):
    """A team rule written in CEL (docs/custom-rules.md)."""

    name: str = option(
        description="kebab-case, naming the flagged pattern",
        matches=RULE_NAME,
        expected="kebab-case (lower-case words joined by -, such as image-registry-not-allowed)",
    )
    code: str = option(
        description="X and three digits, e.g. X101",
        matches=CUSTOM_CODE,
        expected="a team rule code: X and three digits (X001-X999; ML codes are built-in)",
    )
    summary: str = option(min_length=1)
    condition: str = option(description="CEL; true means the rule is broken", min_length=1)
    message: str = option(description="CEL expression giving the finding's message", min_length=1)
    severity: Severity = Severity.WARNING
    scope: RuleScope = RuleScope.OBJECT
    init_containers: bool = option(False, "with scope container: init containers too")
    kinds: tuple[str, ...] = option((), "kinds it judges (Kind or group/Kind); default: all")
    fix: CustomFix | None = None
    docs: str = ""
    url: str = option("", "where the rule is documented, shown with every finding")
    enforcement: Enforcement | None = option(
        None, "what a finding does at admission; default: by severity"
    )


class Config(ConfigModel):
    """A whole configuration: the rules that run, their severities and options, what they judge
    and the exceptions to them."""

    select: tuple[str, ...] | None = option(
        None, "rules to run (codes, names, code prefixes, or ALL); default: those on by default"
    )
    ignore: tuple[str, ...] = ()
    extend_select: tuple[str, ...] = ()
    severity: dict[str, Severity] = option(dict)
    rules: dict[str, dict[str, Any]] = option(dict, "per-rule options, by rule name or code")
    exclude: Exclude = option(Exclude)
    fail_on: Severity = Severity.WARNING
    allow_suppression: bool = option(
        True, "whether suppression annotations and comments are honoured"
    )
    kinds: tuple[CustomKind, ...] = ()
    exceptions: tuple[RuleException, ...] = option(
        (), "rules that do not apply to matched objects, with a reason and an optional expiry"
    )
    scope: Reach = option(
        Reach.ML,
        "which workloads the generic rules judge: ml (ML workloads; the probe rules, model "
        "servers only) or all",
    )
    rule_scope: dict[str, Reach] = option(
        dict, "the scope of single generic rules, by rule name or code, over `scope`"
    )
    custom_rules: tuple[CustomRule, ...] = option((), "team rules written in CEL")
    plugins: tuple[str, ...] = option(
        (), "Python rule packages to load, by their `mllint.rules` entry point name"
    )


def default_config() -> Config:
    return Config()


class ConfigError(ValueError):
    """A configuration problem, worded for the user: where, what, and the closest valid name."""


def closest(word: str, candidates: Iterable[str]) -> str:
    import difflib  # only a mistake needs a suggestion: kept off the start-up of a run

    match = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return f"; did you mean {match[0]!r}?" if match else ""


def parse_config(data: Any, source: str) -> Config:
    """Validate raw config data; errors name the source, the key path and a suggestion."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"{source}: the configuration must be a mapping, got {type(data).__name__}"
        )
    if not data:
        return default_config()
    config = validate(Config, data, source)
    if config.custom_rules or config.plugins:
        from mllint.rules.engine import team_rules

        try:
            team_rules(config)  # expressions compiled (and kept) now, so errors name the file
        except ConfigError as exc:
            raise ConfigError(f"{source}: {exc}") from None
    return config


T = TypeVar("T", bound=ConfigModel)

UNKNOWN_KEY = ("extra_forbidden", "unexpected_keyword_argument")


def validate(model: type[T], data: Any, source: str, at: tuple[str, ...] = ()) -> T:
    """`data` (found at key path `at` of `source`) read into `model` by pydantic; problems as
    one ConfigError naming the source and each key.

    pydantic is imported here and only here, so runs without a config file never load it."""
    from pydantic import TypeAdapter, ValidationError

    as_dataclasses()
    try:
        return TypeAdapter(model).validate_python(data)
    except ValidationError as exc:
        errors = exc.errors()
        # A key whose inner value failed is reported again as a whole by pydantic; the inner
        # error says what is wrong.
        locs = [tuple(e["loc"]) for e in errors]
        innermost = [
            e
            for e, loc in zip(errors, locs, strict=True)
            if not any(len(o) > len(loc) and o[: len(loc)] == loc for o in locs)
        ]
        problems = (_describe(model, err, source, at) for err in innermost)
        raise ConfigError("\n".join(problems)) from None


def _describe(model: type[ConfigModel], err: Any, source: str, at: tuple[str, ...]) -> str:
    head = f"{source}: " if source else ""
    loc = ".".join((*at, *(str(p) for p in err["loc"])))
    if err["type"] in UNKNOWN_KEY:
        key = str(err["loc"][-1])
        known = field_names(model, err["loc"][:-1])
        return f"{head}unknown key {loc!r}{closest(key, known)}"
    message = str(err["msg"]).removeprefix("Value error, ")
    if err["type"] == "tuple_type":
        value = err.get("input")
        example = f"[{value}]" if isinstance(value, str | int | float) else "[...]"
        key = str(err["loc"][-1]) if err["loc"] else "key"
        message = (
            f"expected a list, such as `{key}: {example}`, not {_kind_of(value)}"
            if key not in ("select", "ignore", "extend-select")
            else f"expected a list of rule codes, names or prefixes, such as `{key}: {example}`,"
            f" not {_kind_of(value)}"
        )
    return f"{head}{loc}: {message}" if loc else f"{head}{message}"


def _kind_of(value: Any) -> str:
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, dict):
        return "a mapping"
    return "null" if value is None else f"a {type(value).__name__}"


def field_names(model: type[ConfigModel], loc: tuple[Any, ...] = ()) -> list[str]:
    """The keys a file may use at `loc` (a path of keys) below `model`."""
    for part in loc:
        hints = get_type_hints(model)
        inner = hints.get(str(part).replace("-", "_"))
        if isinstance(inner, type) and issubclass(inner, ConfigModel):
            model = inner
        else:
            break
    return [kebab(f.name) for f in dataclass_fields(model)]
