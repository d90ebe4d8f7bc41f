from __future__ import annotations

import copy

from graphtrail.cloudtrail.actions import (
    Control,
    _attempted_resource,
    _finish,
    find_rule,
    generic_effect,
    resolve_action,
)
from graphtrail.cloudtrail.actions.context import Context
from graphtrail.cloudtrail.normalize import normalize_record
from tests.conftest import invictus_records


def test_rule_less_calls_take_the_shortcut_to_the_same_effect() -> None:
    checked = 0
    for record in invictus_records():
        event = normalize_record(copy.deepcopy(record))
        if find_rule(event) is not None or event.resources or event.failed:
            continue
        ctx = Context.of(event, event.name)
        assert resolve_action(event) == _finish(_attempted_resource(ctx, generic_effect(ctx)), Control.NEVER, event)
        checked += 1
    assert checked > 1000  # most of the dataset is rule-less Describe/List/Get calls
