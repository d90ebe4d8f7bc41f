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
    unioned into a bounded set by the graph builder.
    """

    target: NodeRef
    facts: Mapping[str, FactValue]
    traversable: bool
    nodes: tuple[NodeRef, ...] = ()
    structural: tuple[StructuralEdge, ...] = ()


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
