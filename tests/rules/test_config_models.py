"""Configuration models behave as frozen dataclasses without being built as ones at import."""

from __future__ import annotations

import dataclasses
import inspect
import pickle
import sys

import pytest

from mllint.rules import REGISTRY, Config
from mllint.rules.config import CustomTemplate, Exclude
from mllint.rules.exceptions import ExceptionMatch, RuleException
from mllint.rules.model import ConfigModel, cleandoc, dataclass_fields, option


class _Twin(ConfigModel):
    """A model with every kind of field."""

    name: str = option(description="required")
    count: int = option(3, "a number", ge=1)
    tags: tuple[str, ...] = ()
    labels: dict[str, str] = option(dict, "made fresh for each model")


@dataclasses.dataclass(frozen=True)
class _Real:
    """The same fields as a plain frozen dataclass, to compare with."""

    name: str
    count: int = 3
    tags: tuple[str, ...] = ()
    labels: dict[str, str] = dataclasses.field(default_factory=dict)


def test_a_model_compares_hashes_and_shows_itself_as_a_dataclass() -> None:
    model, real = _Twin("a", tags=("x",)), _Real("a", tags=("x",))
    assert repr(model) == repr(real).replace("_Real", "_Twin")
    assert model == _Twin(name="a", count=3, tags=("x",), labels={})
    assert model != _Twin("b", tags=("x",))
    assert model != real
    assert model.labels is not _Twin("a").labels
    with pytest.raises(TypeError, match="unhashable type: 'dict'"):
        hash(model)  # a dict field, as in a dataclass
    assert hash(Exclude(paths=("a/*",))) == hash(Exclude(("a/*",)))
    assert pickle.loads(pickle.dumps(Config(ignore=("ML101",)))) == Config(ignore=("ML101",))


def test_a_model_is_frozen_and_checks_its_arguments_and_limits() -> None:
    model = _Twin("a")
    with pytest.raises(dataclasses.FrozenInstanceError, match="cannot assign to field 'count'"):
        model.count = 4  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError, match="cannot delete field 'count'"):
        del model.count  # type: ignore[misc]
    with pytest.raises(TypeError, match="missing 1 required positional argument: 'name'"):
        _Twin()  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="unexpected keyword argument 'size'"):
        _Twin("a", size=1)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="multiple values for argument 'name'"):
        _Twin("a", name="b")  # type: ignore[misc]
    with pytest.raises(ValueError, match="count must be at least 1, got 0"):
        _Twin("a", count=0)
    with pytest.raises(ValueError, match="path must be a JSON Pointer"):
        CustomTemplate(path="spec/x")
    assert model.replace(count=5) == _Twin("a", count=5)
    with pytest.raises(ValueError, match="reason must say why"):
        RuleException(rules=("ML101",), reason="x").replace(reason=" ")
    with pytest.raises(TypeError, match="non-default argument 'late' follows default argument"):

        class _Bad(ConfigModel):
            early: int = 1
            late: int = option()


def test_models_read_as_dataclasses_for_pydantic_and_the_docs() -> None:
    by_name = {f.name: f for f in dataclass_fields(_Twin)}
    assert list(by_name) == ["name", "count", "tags", "labels"]
    assert by_name["name"].default is dataclasses.MISSING
    assert by_name["name"].default_factory is dataclasses.MISSING
    assert by_name["count"].default == 3
    assert dict(by_name["count"].metadata) == {"description": "a number", "ge": 1}
    assert by_name["labels"].default_factory is dict
    assert dict(by_name["tags"].metadata) == {}
    assert dataclasses.is_dataclass(Config) and dataclasses.is_dataclass(ExceptionMatch)
    names = [f.name for f in dataclass_fields(Exclude())]
    assert names == ["paths", "namespaces", "kinds", "names"]
    # Still the same models: built, compared and frozen as before.
    assert _Twin("a") == _Twin("a") and repr(_Twin("a")).startswith("_Twin(name='a', count=3")
    with pytest.raises(dataclasses.FrozenInstanceError):
        _Twin("a").count = 4  # type: ignore[misc]


@pytest.mark.parametrize(
    "text",
    [
        "",
        "one line",
        "\n\n  first\n    indented\n  back\n\n",
        "Title.\n\n\tTabbed\n\t  more\n   \n",
        "  lead\n      \n    body\n",
        "no margin\nat all",
        "\u2003wide space\n  x",
    ],
)
def test_cleandoc_is_inspects(text: str) -> None:
    assert cleandoc(text) == inspect.cleandoc(text)


def test_rule_docs_are_cleaned_as_inspect_cleans_them() -> None:
    for rule in REGISTRY.rules:
        module = sys.modules[(rule.set_check or rule.check).__module__]
        if rule.meta:
            continue
        assert rule.docs == inspect.cleandoc(module.__doc__ or ""), rule.code
