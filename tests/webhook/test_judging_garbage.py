"""Judging a review leaves nothing for the cyclic garbage collector: what a request decodes and
the records the engine makes of it are freed when its answer is made, so a busy server does not
run collections for them."""

from __future__ import annotations

import gc
import json

import pytest
from webhook_helpers import deployment, job, review

from mllint.webhook.judging import Inline
from mllint.webhook.review import Admission
from mllint.webhook.settings import WebhookSettings


@pytest.mark.parametrize("endpoint", ["validate", "mutate"])
def test_judging_reviews_leaves_no_cyclic_garbage(endpoint: str) -> None:
    inline = Inline(Admission.from_settings(WebhookSettings()))
    bodies = [json.dumps(review(obj)).encode() for obj in (deployment(), job())]
    decisions: list[str] = []

    def run() -> None:
        for body in bodies * 20:
            decisions.append(inline.judge(endpoint, body, 10.0).decision)

    run()  # what is made once (caches, compiled patterns) is not garbage
    gc.collect()
    gc.disable()
    try:
        run()
        assert gc.collect() == 0
    finally:
        gc.enable()
    assert "error" not in decisions
