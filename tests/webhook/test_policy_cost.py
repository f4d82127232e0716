"""The exported policies stay within the API server's CEL cost limits on every fixture and
corpus object, measured by cel-go's runtime cost rules (`cel_cost`)."""

from __future__ import annotations

import copy
from typing import Any

import cel_cost
import pytest
from policy_harness import Policy, Request
from test_policies import (
    BAD_GPU,
    CORPUS,
    COVERED,
    SETTINGS,
    corpus_objects,
    fixture_objects,
    resource_of,
)

from mllint.rules import Engine
from mllint.webhook.policies import export


def exported() -> list[tuple[dict[str, Any], Policy]]:
    engine = Engine()
    objects = [
        o
        for which in ("vap", "map")
        for o in export(engine, SETTINGS, which).objects  # type: ignore[arg-type]
        if not o["kind"].endswith("Binding")
    ]
    return [(o, Policy(o)) for o in objects]


POLICIES = exported()


def measure_all(objects: list[tuple[str, dict[str, Any]]]) -> dict[str, tuple[int, int, str]]:
    """Per policy: the costliest expression, the costliest evaluation in all, and where."""
    engine = Engine()
    worst: dict[str, tuple[int, int, str]] = {}
    for where, obj in objects:
        resource = resource_of(engine, obj)
        if resource is None:
            continue
        request = Request(obj, resource)
        bindings = request.bindings()
        for raw, policy in POLICIES:
            if not policy.matches(request):
                continue
            costs = cel_cost.measure(raw, bindings)
            largest = max(costs.expressions.values(), default=0)
            assert largest <= cel_cost.PER_CALL_LIMIT, (where, policy.name, costs.expressions)
            assert costs.total <= cel_cost.RUNTIME_BUDGET, (where, policy.name)
            assert costs.conditions <= cel_cost.MATCH_CONDITIONS_BUDGET, (where, policy.name)
            name = policy.name
            worst[name] = max(worst.get(name, (0, 0, "")), (largest, costs.total, where))
    return worst


def test_the_cost_model_evaluates_as_the_cel_library() -> None:
    """The costs are only worth what the evaluation behind them is: on the fixtures, its
    findings are the library's (themselves the engine's)."""
    engine = Engine()
    compared = 0
    for where, obj in fixture_objects(COVERED):
        resource = resource_of(engine, obj)
        if resource is None:
            continue
        request = Request(obj, resource)
        for raw, policy in POLICIES:
            if raw["kind"] != "ValidatingAdmissionPolicy" or not policy.matches(request):
                continue
            evaluation = policy.applies(request)
            costs = cel_cost.measure(raw, request.bindings())
            if evaluation is None:
                assert "findings" not in costs.values  # a matchCondition left it alone
                continue
            want = evaluation.run(policy.variables["findings"])
            # Map entries may come in another order (the API server's maps have none).
            got = sorted(costs.values["findings"].split("\n"))
            assert got == sorted(want.split("\n")), (where, policy.name)
            compared += bool(want)
    assert compared > 20


def test_every_expression_stays_within_the_limits_on_the_fixtures() -> None:
    worst = measure_all(fixture_objects(COVERED))
    assert worst
    print({name: cost for name, (cost, _, _) in worst.items()})


@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"the shared corpus is absent ({CORPUS})")
def test_every_expression_stays_within_the_limits_on_the_corpus() -> None:
    worst = measure_all(corpus_objects())
    for name, (largest, total, where) in sorted(worst.items()):
        print(f"{name}: largest expression {largest:,}, policy {total:,} ({where})")


def command_of(length: int) -> dict[str, Any]:
    obj = copy.deepcopy(BAD_GPU)
    container = obj["spec"]["template"]["spec"]["containers"][0]
    container["command"] = ["sh", "-c", ("echo step; " * length)[:length]]
    return obj


def test_the_cost_grows_with_the_length_of_commands_as_documented() -> None:
    """A pod's purpose reads each main container's command, arguments and environment with
    patterns; cel-go charges each `matches()` the product of the text's length and the
    pattern's, so the per-call limit caps the text a container can carry (docs/policies.md)."""
    (raw, _) = next((r, p) for r, p in POLICIES if r["metadata"]["name"].startswith("mllint-ml601"))
    resource = ("apps", "v1", "deployments")

    def cost(length: int) -> int:
        bindings = Request(command_of(length), resource).bindings()
        return max(cel_cost.measure(raw, bindings).expressions.values())

    per_char = (cost(4_000) - cost(2_000)) / 2_000
    assert 5 < per_char < 200
    assert cost(2_000) < cel_cost.PER_CALL_LIMIT
    limit = int(cel_cost.PER_CALL_LIMIT / per_char)
    assert 20_000 < limit < 200_000
    assert cost(limit + 2_000) > cel_cost.PER_CALL_LIMIT
    print(f"pods variable: {per_char:.0f} per character of command text; limit ~{limit:,}")
