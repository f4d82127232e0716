"""Exceptions: a rule that does not apply to some objects, with a reason and maybe an expiry.

One model for every front end (the linter, the webhook, the cluster audit). An exception is
written in two places:

- in the configuration, under `exceptions:`, matching objects by namespace, kind, name and
  labels (globs);
- on the object, as a suppression annotation whose value is the reason, optionally ending in
  `(expires YYYY-MM-DD)`: `ignore-check.mllint.io/ML204: "deleted by CI (expires 2027-03-31)"`.

An exception holds through its `expires` day and lapses the day after. A lapsed exception
suppresses nothing and is reported (as `suppression-invalid`), so it is renewed or removed
rather than forgotten. The engine never reads the clock: a front end passes "today" in.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import re
from collections.abc import Mapping

from mllint.rules.model import ConfigModel, Frozen, Regex, option, set_field


def kind_names(api_version: str, kind: str) -> set[str]:
    """How configuration may name a kind: `Kind`, `group/Kind` (`kubeflow.org/PyTorchJob`) or
    `apiVersion/Kind` (`batch/v1/Job`)."""
    group = api_version.rpartition("/")[0]
    return {kind, f"{group}/{kind}" if group else kind, f"{api_version}/{kind}"}


class ExceptionMatch(ConfigModel):
    """Which objects an exception covers: every field given must match (globs, `fnmatch`);
    within a field, any entry may. `labels` maps a label key to a glob of its value."""

    namespaces: tuple[str, ...] = ()
    kinds: tuple[str, ...] = option((), "Kind, group/Kind or apiVersion/Kind globs")
    names: tuple[str, ...] = ()
    labels: dict[str, str] = option(dict, "label key -> glob of the value; all must match")

    def matches(
        self,
        api_version: str,
        kind: str,
        namespace: str,
        name: str,
        labels: Mapping[str, str],
    ) -> bool:
        if self.namespaces and not any(fnmatch.fnmatchcase(namespace, p) for p in self.namespaces):
            return False
        if self.kinds:
            names = kind_names(api_version, kind)
            if not any(fnmatch.fnmatchcase(n, p) for p in self.kinds for n in names):
                return False
        if self.names and not any(fnmatch.fnmatchcase(name, p) for p in self.names):
            return False
        return all(
            key in labels and fnmatch.fnmatchcase(labels[key], glob)
            for key, glob in self.labels.items()
        )


class RuleException(ConfigModel):
    """Rules that do not apply to the objects `match` selects, why, and until when."""

    rules: tuple[str, ...] = option(description="rule codes or names", min_length=1)
    reason: str = option(description="why the rules do not apply (required)")
    match: ExceptionMatch = option(ExceptionMatch, "the objects it covers; empty: every object")
    expires: dt.date | None = option(
        None, "the last day it applies (YYYY-MM-DD); reported once lapsed"
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.reason.strip():
            raise ValueError("reason must say why the rules do not apply")

    def lapsed(self, today: dt.date | None) -> bool:
        return lapsed(self.expires, today)

    def describe(self) -> str:
        return f"exception for {', '.join(self.rules)} ({self.reason!r})"


def lapsed(expires: dt.date | None, today: dt.date | None) -> bool:
    """Whether an exception valid through `expires` no longer holds on `today`.

    Without a clock (`today` None) nothing lapses; every front end passes one."""
    return expires is not None and today is not None and today > expires


_DATE = Regex(r"\d{4}-\d{2}-\d{2}")
_EXPIRES = Regex(r"\(\s*expires\s+([^)]*?)\s*\)\s*$", re.IGNORECASE)


class AnnotationValue(Frozen):
    """A suppression annotation's value: the reason and the optional expiry."""

    __slots__ = _fields = ("reason", "expires", "bad_expiry")

    reason: str
    expires: dt.date | None
    bad_expiry: str | None
    """The text of an expiry that is not a YYYY-MM-DD date."""

    def __init__(
        self, reason: str, expires: dt.date | None = None, bad_expiry: str | None = None
    ) -> None:
        set_field(self, "reason", reason)
        set_field(self, "expires", expires)
        set_field(self, "bad_expiry", bad_expiry)


def parse_annotation(value: str) -> AnnotationValue:
    """`"the reason (expires 2027-03-31)"` -> reason and date; no suffix, no expiry."""
    match = _EXPIRES.search(value)
    if match is None:
        return AnnotationValue(value.strip())
    reason = value[: match.start()].strip()
    text = match.group(1)
    if _DATE.fullmatch(text):
        try:
            return AnnotationValue(reason, dt.date.fromisoformat(text))
        except ValueError:
            pass
    return AnnotationValue(reason, bad_expiry=text)
