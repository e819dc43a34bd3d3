"""A label that does not fit the spec is refused by submit_item with one line, and nothing is stored."""

from __future__ import annotations

import pytest

from annotary.core.errors import AnnotaryError
from annotary.core.labels import PairwiseAnswer
from annotary.ops import queries
from annotary.ops.annotate import submit_item
from tests.ops.badbundles import assert_one_line, assert_unchanged, checkpoint, snapshot

PROJECT = "demo-pairwise"


@pytest.fixture
def item(demo_store):
    item_id = queries.item_ids(demo_store, PROJECT)[0]
    return queries.item(demo_store, PROJECT, item_id)


def good(item, **changes) -> dict:
    ids = [r.id for r in item.responses]
    args = {"project_id": PROJECT, "item_id": item.id, "annotator": "0123456789abcdef",
            "shown_order": ids,
            "answers": {"helpful": PairwiseAnswer(choice="A", preferred=ids[0]),
                        "harmless": PairwiseAnswer(choice="tie")}}
    return args | changes


def refused(store, pattern: str, **args) -> str:
    checkpoint(store)
    before = snapshot(store)
    with pytest.raises(AnnotaryError, match=pattern) as err:
        submit_item(store, **args)
    assert_one_line(str(err.value))
    assert_unchanged(before, snapshot(store))
    return str(err.value)


def test_a_good_label_is_stored(demo_store, item):
    change = submit_item(demo_store, **good(item))
    assert change.counts == {"labels": 2, "revision": 1}


def test_missing_required_answer(demo_store, item):
    args = good(item)
    args["answers"] = {"helpful": args["answers"]["helpful"]}
    refused(demo_store, r"no answer to harmless", **args)


def test_choice_not_on_the_scale(demo_store, item):
    args = good(item)
    args["answers"] = args["answers"] | {"harmless": PairwiseAnswer(choice="both_bad")}
    refused(demo_store, r"'both_bad' is not on a tie scale", **args)


def test_shown_order_of_other_responses(demo_store, item):
    refused(demo_store, r"shown_order: does not list the item's responses",
            **good(item, shown_order=["x", "y"]))


def test_unknown_flag(demo_store, item):
    refused(demo_store, r"'on-fire' is not a flag of the spec", **good(item, flags=["on-fire"]))


def test_confidence_above_the_scale(demo_store, item):
    refused(demo_store, r"confidence: 6 is above the scale of 5", **good(item, confidences={"helpful": 6}))
    # beyond any scale: refused as a user error too, not a validation traceback
    refused(demo_store, r"question 'helpful': confidence: ", **good(item, confidences={"helpful": 99}))


def test_unknown_project(demo_store, item):
    refused(demo_store, r"no project 'nope'", **good(item, project_id="nope"))


def test_unknown_item(demo_store, item):
    refused(demo_store, r"no item 'nope'", **good(item, item_id="nope"))


def test_preferred_response_that_is_not_a_response(demo_store, item):
    args = good(item)
    args["answers"] = args["answers"] | {"helpful": PairwiseAnswer(choice="A", preferred="r-unknown")}
    refused(demo_store, r"preferred", **args)


def test_preferred_response_that_contradicts_the_choice(demo_store, item):
    args = good(item)
    other = item.responses[1].id
    args["answers"] = args["answers"] | {"helpful": PairwiseAnswer(choice="A", preferred=other)}
    refused(demo_store, r"answer.preferred: .* is not the response choice 'A' names", **args)
