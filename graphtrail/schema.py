"""The graph contract, declared once: node kinds, structural edge types and their properties.

The builder, the case store, exports, the Neo4j loader and the browser view all read these names.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class NodeKind:
    name: str
    key: str  # what the node id is
    properties: tuple[str, ...] = ()


NODE_KINDS: dict[str, NodeKind] = {
    kind.name: kind
    for kind in (
        NodeKind("Account", "12-digit account id (or 'anonymous')"),
        NodeKind("Root", "arn:PARTITION:iam::ACCOUNT:root"),
        NodeKind("User", "IAM user ARN", ("path",)),
        NodeKind("Role", "role ARN with its path"),
        NodeKind(
            "Session",
            "assumed-role ARN",
            ("role", "session_name", "source_identity", "ec2_role_delivery", "instance_id", "workload"),
        ),
        NodeKind("FederatedUser", "federated-user ARN", ("issuer",)),
        NodeKind("ExternalIdentity", "saml:/oidc:/identitycenter: + the user", ("provider",)),
        NodeKind("Service", "service principal, e.g. ec2.amazonaws.com"),
        NodeKind(
            "AccessKey",
            "AKIA…/ASIA… key id",
            ("temporary", "owner", "minted_by_event", "minted_by", "minted_with_key", "minted_from_ip", "lineage"),
        ),
        NodeKind("IP", "address", ("is_aws", "aws_service", "aws_region")),
        NodeKind("Resource", "ARN or best stable id", ("type",)),
        NodeKind("Unknown", "unknown:PRINCIPAL_ID"),
    )
}

# Every node carries these.
COMMON_NODE_PROPERTIES = ("kind", "account", "first_seen", "last_seen", "name")

AUTHENTICATES = "AUTHENTICATES"  # AccessKey -> the principal it acts as
MINTED = "MINTED"  # principal -> temporary key it obtained
SESSION_OF = "SESSION_OF"  # Session -> Role (FederatedUser -> issuing user)
IN_ACCOUNT = "IN_ACCOUNT"  # any node -> its Account
FROM_IP = "FROM_IP"  # principal / key -> IP
STRUCTURAL_EDGE_TYPES = (AUTHENTICATES, MINTED, SESSION_OF, IN_ACCOUNT, FROM_IP)
TRAVERSABLE_STRUCTURAL = frozenset({AUTHENTICATES, MINTED})

# Aggregated on every action edge.
ACTION_EDGE_PROPERTIES = (
    "count",
    "error_count",
    "errors",
    "first_seen",
    "last_seen",
    "source_ips",
    "user_agents",
    "regions",
    "access_keys",
    "event_ids",
    "traversable",
    "facts",
)


def is_structural(edge_type: str) -> bool:
    return edge_type in STRUCTURAL_EDGE_TYPES
