"""What one event tells the graph: the frozen types the action table returns."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from graphtrail.cloudtrail.actions.context import Context

FactValue = int | bool | str | tuple[str | int, ...]


NO_PROPS: Mapping[str, object] = {}  # shared by every NodeRef without props: never written to


class NodeRef(NamedTuple):
    """A node an event points at or tells us about.

    `kind` is one of the graph contract's node kinds; Resource nodes carry `resource_type` (``s3:bucket``,
    ``ec2:security-group``…). `key` is an ARN when one exists or can be built, else the best stable id.
    The three types here are NamedTuples rather than frozen dataclasses: an event builds several, and a
    NamedTuple builds in half the time.
    """

    key: str
    kind: str
    account: str | None = None
    name: str | None = None
    resource_type: str | None = None
    props: Mapping[str, object] = NO_PROPS


class StructuralEdge(NamedTuple):
    """A fact beyond the action edge, typed with one of the contract's structural edge types."""

    src: str
    type: str
    dst: str


class ActionEffect(NamedTuple):
    """The action edge's target, its facts, and the extra nodes and structural edges the event establishes.

    Facts are JSON-safe and aggregate across events: ints are summed, bools OR-ed, strings and tuples are
    unioned into a bounded set by the graph builder. Rules build effects with `Context.effect`, which
    cleans facts and props (`clean_facts`) and lists each other node once.
    """

    target: NodeRef
    facts: Mapping[str, FactValue]
    traversable: bool
    nodes: tuple[NodeRef, ...] = ()
    structural: tuple[StructuralEdge, ...] = ()


MAX_FACT_ITEMS = 20  # per tuple fact, per event; the graph builder bounds the union across events
MAX_FACT_TEXT = 512  # characters per string fact (keys, session names… are attacker-sized)
# Numbers from a log are attacker-sized; beyond this they are noise, and sums must still fit in JSON and SQLite.
MAX_FACT_NUMBER = 2**53


def clean_facts(facts: Mapping[str, object]) -> dict[str, FactValue]:
    """Keep JSON-safe values only: bools, ints, short strings, short tuples of strings/ints."""
    clean: dict[str, FactValue] = {}
    for key, value in facts.items():
        kept = _clean_value(value)
        if kept is not None:
            clean[str(key)] = kept
    return clean


def clean_node(node: NodeRef) -> NodeRef:
    """The node with JSON-safe props (`clean_facts`)."""
    if not node.props:
        return node
    return node._replace(props=clean_facts(node.props))


def _clean_value(value: object) -> FactValue | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value if -MAX_FACT_NUMBER <= value <= MAX_FACT_NUMBER else None
    if isinstance(value, float):
        return int(value) if value == value and abs(value) <= MAX_FACT_NUMBER else None
    if isinstance(value, str):
        return value[:MAX_FACT_TEXT] if value else None
    if isinstance(value, (tuple, list)):
        kept: list[str | int] = []
        for item in value:
            if isinstance(item, bool) or item is None:
                continue
            if isinstance(item, int):
                entry: str | int = item
            elif isinstance(item, str) and item:
                entry = item[:MAX_FACT_TEXT]
            else:
                continue
            if entry not in kept:
                kept.append(entry)
            if len(kept) >= MAX_FACT_ITEMS:
                break
        return tuple(kept) if kept else None
    return None


class Control(Enum):
    """Whether an action's edge transfers control (see the graph contract), declared per rule."""

    NEVER = "never"
    ALWAYS = "always"  # whenever the call succeeded
    CONDITIONAL = "conditional"  # when the handler says so (admin policy, a role passed…) and the call succeeded


Handler = Callable[["Context"], ActionEffect]


@dataclass(frozen=True, slots=True)
class ActionRule:
    """One row of the table: which call, how to read it, whether its edge can transfer control."""

    source: str
    name: str
    handler: Handler
    control: Control = Control.NEVER
    family: str = ""


def rules(source: str, family: str, table: Mapping[str, Handler | tuple[Handler, Control]]) -> tuple[ActionRule, ...]:
    """Declare a service's rows compactly: ``{"EventName": handler}`` or ``{"EventName": (handler, Control.X)}``."""
    declared = []
    for name, entry in table.items():
        handler, control = entry if isinstance(entry, tuple) else (entry, Control.NEVER)
        declared.append(ActionRule(source=source, name=name, handler=handler, control=control, family=family))
    return tuple(declared)
