"""How each node kind and edge type looks in the browser view.

Keyed by the kinds and structural edge types that `graphtrail.schema` declares, so a kind added there without a
style here fails a test instead of drawing as a grey dot.
"""

from __future__ import annotations

from dataclasses import dataclass

from graphtrail.schema import AUTHENTICATES, FROM_IP, IN_ACCOUNT, MINTED, NODE_KINDS, SESSION_OF


@dataclass(frozen=True, slots=True)
class KindStyle:
    shape: str  # a vis-network shape
    color: str  # fill
    border: str
    meaning: str  # the legend's words


KIND_STYLES: dict[str, KindStyle] = {
    "Account": KindStyle("database", "#e2e8f0", "#64748b", "AWS account"),
    "Root": KindStyle("star", "#f87171", "#991b1b", "account root user"),
    "User": KindStyle("dot", "#60a5fa", "#1d4ed8", "IAM user"),
    "Role": KindStyle("hexagon", "#a78bfa", "#6d28d9", "IAM role"),
    "Session": KindStyle("diamond", "#c4b5fd", "#7c3aed", "role session"),
    "FederatedUser": KindStyle("triangle", "#93c5fd", "#2563eb", "federated user"),
    "ExternalIdentity": KindStyle("triangleDown", "#7dd3fc", "#0369a1", "SSO / SAML / web identity"),
    "Service": KindStyle("ellipse", "#d1d5db", "#6b7280", "AWS service"),
    "AccessKey": KindStyle("box", "#fde68a", "#b45309", "access key"),
    "IP": KindStyle("square", "#fdba74", "#c2410c", "IP address"),
    "Resource": KindStyle("dot", "#86efac", "#15803d", "resource"),
    "Unknown": KindStyle("dot", "#e5e7eb", "#9ca3af", "unresolved principal"),
}

# Public addresses outside AWS get a stronger colour than AWS's own: that is where attackers come from.
OUTSIDE_IP = KindStyle("square", "#f97316", "#9a3412", "IP address outside AWS")

STRUCTURAL_LABELS: dict[str, str] = {
    AUTHENTICATES: "acts as",
    MINTED: "minted",
    SESSION_OF: "session of",
    IN_ACCOUNT: "in account",
    FROM_IP: "from",
}

EDGE_COLOR = "#94a3b8"
STRUCTURAL_COLOR = "#cbd5e1"
PATH_COLOR = "#dc2626"
ENTRY_COLOR = "#f59e0b"


def kind_style(kind: str) -> KindStyle:
    return KIND_STYLES.get(kind, KIND_STYLES["Unknown"])


def missing_kinds() -> set[str]:
    """Kinds the schema declares that have no style (should be empty)."""
    return set(NODE_KINDS) - set(KIND_STYLES)
