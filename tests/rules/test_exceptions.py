"""Exceptions with a reason and an expiry, judged against the date the front end passes in."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from mllint.rules import ConfigError, Engine, parse_config
from mllint.rules.exceptions import parse_annotation

TODAY = dt.date(2026, 6, 15)


def deployment(annotations: dict[str, str] | None = None, **labels: str) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "server",
            "namespace": "serving",
            "labels": {"app": "server", **labels},
            "annotations": annotations or {},
        },
        "spec": {
            "replicas": 1,
            "template": {
                "metadata": {"labels": {"app": "server"}},
                "spec": {
                    "containers": [
                        {
                            "name": "server",
                            "image": "vllm/vllm-openai:latest",
                            "resources": {
                                "requests": {"cpu": "1", "memory": "1Gi"},
                                "limits": {"memory": "1Gi"},
                            },
                        }
                    ]
                },
            },
        },
    }


def codes(engine: Engine, obj: dict[str, Any]) -> list[str]:
    return sorted(f.code for f in engine.evaluate(obj))


def engine(data: dict[str, Any] | None = None, today: dt.date = TODAY) -> Engine:
    return Engine(parse_config(data or {}, "test"), today=lambda: today)


PROBES = ["ML301", "ML302", "ML303"]


def test_annotation_expiry_holds_through_its_day_and_lapses_after() -> None:
    obj = deployment({"ignore-check.mllint.io/ML602": "mirror pins it (expires 2026-06-15)"})
    assert codes(engine(), obj) == PROBES
    lapsed = engine(today=TODAY + dt.timedelta(days=1)).evaluate(obj)
    assert sorted(f.code for f in lapsed) == ["ML003", *PROBES, "ML602"]
    [note] = [f for f in lapsed if f.code == "ML003"]
    assert "expired on 2026-06-15" in note.message
    assert note.pointer == "/metadata/annotations/ignore-check.mllint.io~1ML602"


def test_pod_template_annotations_suppress_and_are_reported_under_the_template() -> None:
    plain = deployment()
    assert codes(engine(), plain) == [*PROBES, "ML602"]
    annotated = deployment()
    template = annotated["spec"]["template"]["metadata"]
    template["annotations"] = {"mllint.io/ignore-all": "a smoke test of the image"}
    assert codes(engine(), annotated) == []
    template["annotations"] = {"ignore-check.mllint.io/no-such-rule": "why", "other": "x"}
    found = engine().evaluate(annotated)
    assert sorted(f.code for f in found) == ["ML003", *PROBES, "ML602"]
    [note] = [f for f in found if f.code == "ML003"]
    assert note.pointer == (
        "/spec/template/metadata/annotations/ignore-check.mllint.io~1no-such-rule"
    )
    # Other annotations, on the object and its template, neither suppress nor are reported.
    template["annotations"] = {"mllint.io/ignore": "x", "example.com/ignore-all": "x"}
    assert codes(engine(), annotated) == [*PROBES, "ML602"]


def test_without_a_clock_nothing_lapses() -> None:
    obj = deployment({"ignore-check.mllint.io/ML602": "mirror pins it (expires 2000-01-01)"})
    assert codes(Engine(), obj) == PROBES


@pytest.mark.parametrize(
    "value", ["why (expires soon)", "why (expires 2026-13-01)", "why (expires 20261301)"]
)
def test_an_expiry_that_is_not_a_date_suppresses_nothing(value: str) -> None:
    found = engine().evaluate(deployment({"ignore-check.mllint.io/ML602": value}))
    assert sorted(f.code for f in found) == ["ML003", *PROBES, "ML602"]
    assert any("is not a date (YYYY-MM-DD)" in f.message for f in found)


def test_an_expiry_alone_is_no_reason() -> None:
    found = engine().evaluate(deployment({"ignore-check.mllint.io/ML602": "(expires 2027-01-01)"}))
    assert any(f.code == "ML003" and "gives no reason" in f.message for f in found)


def test_parse_annotation() -> None:
    assert parse_annotation("CI deletes it (Expires 2027-03-31) ").expires == dt.date(2027, 3, 31)
    assert parse_annotation("CI deletes it (expires 2027-03-31)").reason == "CI deletes it"
    assert parse_annotation("expires when the queue does").expires is None


def _exception(**extra: Any) -> dict[str, Any]:
    return {
        "exceptions": [
            {"rules": ["startup-probe-missing", "ML302"], "reason": "KServe probes it", **extra}
        ]
    }


def test_configuration_exception_matches_namespace_kind_name_and_labels() -> None:
    obj = deployment(team="search")
    match = {
        "namespaces": ["serv*"],
        "kinds": ["apps/Deployment"],
        "names": ["server"],
        "labels": {"team": "s*"},
    }
    assert codes(engine(_exception(match=match)), obj) == ["ML303", "ML602"]
    for other in (
        {"namespaces": ["research"]},
        {"kinds": ["StatefulSet"]},
        {"names": ["other"]},
        {"labels": {"team": "ads"}},
        {"labels": {"owner": "*"}},
    ):
        assert codes(engine(_exception(match=match | other)), obj) == [*PROBES, "ML602"], other


def test_lapsed_configuration_exception_is_reported_where_it_would_hide_a_finding() -> None:
    config = _exception(expires=dt.date(2026, 6, 1))
    found = engine(config).evaluate(deployment())
    assert sorted(f.code for f in found) == ["ML003", *PROBES, "ML602"]
    [note] = [f for f in found if f.code == "ML003"]
    assert "expired on 2026-06-01" in note.message and "KServe probes it" in note.message
    # An object its rules find nothing on is not told about it.
    quiet = deployment()
    quiet["spec"]["template"]["spec"]["containers"][0] |= {
        "startupProbe": {"httpGet": {"path": "/h", "port": 8000}},
        "readinessProbe": {"httpGet": {"path": "/h", "port": 8000}},
    }
    assert codes(engine(config), quiet) == ["ML303", "ML602"]


def test_configuration_exceptions_hold_when_objects_may_not_exempt_themselves() -> None:
    config = _exception() | {"allow-suppression": False}
    obj = deployment({"ignore-check.mllint.io/ML602": "mirror pins it"})
    assert codes(engine(config), obj) == ["ML303", "ML602"]


def test_configuration_exception_suppresses_whole_set_findings() -> None:
    obj = deployment()
    obj["spec"]["replicas"] = 3
    for config, expected in (
        ({}, ["ML804"]),
        ({"exceptions": [{"rules": ["pdb-missing"], "reason": "r"}]}, []),
    ):
        collector = engine(config).collector()
        collector.add(obj, "ref")
        assert [f.code for _, f in collector.findings()] == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"rules": ["ML602"], "reason": " "}, "reason must say why"),
        ({"rules": ["ML602"]}, "reason"),
        ({"rules": [], "reason": "r"}, "rules: .*at least 1"),
        ({"rules": ["ML602"], "reason": "r", "expires": "next week"}, "expires"),
        ({"rules": ["ML602"], "reason": "r", "match": {"namespace": ["x"]}}, "unknown key"),
    ],
)
def test_bad_exceptions_are_configuration_errors(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Engine(parse_config({"exceptions": [raw]}, "cfg.yaml"))


def test_unknown_rule_in_an_exception_is_named() -> None:
    with pytest.raises(ConfigError, match=r"exceptions\[0\].*image-tag-lates"):
        Engine(parse_config({"exceptions": [{"rules": ["image-tag-lates"], "reason": "r"}]}, "c"))
