"""Configuration: which rules run, how severe they are, their options and exclusions.

The same model is read from `.mllint.yaml`, `[tool.mllint]` in `pyproject.toml` (by the linter)
and from the webhook's settings. Keys are kebab-case in files; unknown keys are errors.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, Field, ValidationError, field_validator

from mllint.rules.model import ConfigModel, Role, Severity, kebab


class Exclude(ConfigModel):
    """Objects no rule is run on. Each entry is a glob (`fnmatch`); any match excludes."""

    paths: tuple[str, ...] = ()
    namespaces: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    names: tuple[str, ...] = ()


def _pointers(value: Any) -> Any:
    for item in (value,) if isinstance(value, str) else value or ():
        if isinstance(item, str) and item and not item.startswith("/"):
            raise ValueError(f"must be a JSON Pointer starting with '/', got {item!r}")
    return value


class CustomTemplate(ConfigModel):
    """Where pods live in a custom kind: `path` is a pointer pattern (`*` matches any key or
    index) to a pod template (`metadata` + `spec`), or with `inline` to a pod spec."""

    path: str
    inline: bool = False
    role: Role | None = None
    containers: tuple[str, ...] = ()
    """Patterns, relative to the pod spec, of single containers outside `containers[]`."""
    restart_policy: str | None = None
    """The pod restartPolicy the kind requires (`Never` for a Job-like kind)."""

    _check = field_validator("path", "containers", mode="before")(_pointers)


class CustomLifecycle(ConfigModel):
    """Pointer patterns to the kind's lifecycle fields, so the Job rules apply to it."""

    backoff_limit: str | None = None
    active_deadline: str | None = None
    ttl: str | None = None
    concurrency: str | None = None

    _check = field_validator("*", mode="before")(_pointers)


class CustomKind(ConfigModel):
    """A user's own CRD: where its pod templates live and what its workloads do."""

    api_version: str = Field(description="group/version, e.g. example.com/v1")
    kind: str
    plural: str | None = None
    role: Role
    templates: tuple[CustomTemplate, ...] = Field(min_length=1)
    lifecycle: CustomLifecycle = Field(default_factory=CustomLifecycle.model_construct)
    replicas: str | None = None
    """Pointer to the replica count, for a scalable kind."""

    _check = field_validator("replicas", mode="before")(_pointers)


class Config(ConfigModel):
    select: tuple[str, ...] | None = None
    """Rules to run (codes, names, code prefixes, or ALL); default: every rule on by default."""
    ignore: tuple[str, ...] = ()
    extend_select: tuple[str, ...] = ()
    severity: dict[str, Severity] = {}
    rules: dict[str, dict[str, Any]] = {}
    """Per-rule options, keyed by rule name or code."""
    exclude: Exclude = Field(default_factory=Exclude.model_construct)
    fail_on: Severity = Severity.WARNING
    allow_suppression: bool = True
    """Whether suppression annotations are honoured (cluster admins turn this off)."""
    kinds: tuple[CustomKind, ...] = ()


def default_config() -> Config:
    """The configuration with every default, built without running validators."""
    return Config.model_construct()


class ConfigError(ValueError):
    """A configuration problem, worded for the user: where, what, and the closest valid name."""


def closest(word: str, candidates: Iterable[str]) -> str:
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
    try:
        return Config.model_validate(data) if data else default_config()
    except ValidationError as exc:
        raise ConfigError("\n".join(_describe(err, source) for err in exc.errors())) from None


def _describe(err: Any, source: str) -> str:
    loc = ".".join(str(p) for p in err["loc"])
    if err["type"] == "extra_forbidden":
        key = str(err["loc"][-1])
        fields = _fields_at(err["loc"][:-1])
        return f"{source}: unknown key {loc!r}{closest(key, fields)}"
    return f"{source}: {loc}: {err['msg']}"


def _fields_at(loc: tuple[Any, ...]) -> list[str]:
    model: type[BaseModel] = Config
    for part in loc:
        field = model.model_fields.get(str(part).replace("-", "_"))
        annotation = getattr(field, "annotation", None) if field else None
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            model = annotation
        else:
            break
    return [kebab(name) for name in model.model_fields]
