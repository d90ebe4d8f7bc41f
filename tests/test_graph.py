from __future__ import annotations

from pathlib import Path

import networkx as nx
import pytest

from graphtrail.case import Case
from graphtrail.graph import load_graph
from graphtrail.ingest import ingest_paths
from tests.conftest import INVICTUS, STRATUS

STOLEN_KEY = "ASIATFQR7NSCSHSEVYP5"  # EC2 instance credentials used from 3.225.16.109
INSTANCE_SESSION = (
    "arn:aws:sts::123837392027:assumed-role/stratus-red-team-ec2-steal-credentials-role/i-0dbc91f429e48eeed"
)


@pytest.fixture(scope="module")
def invictus_graph(tmp_path_factory: pytest.TempPathFactory) -> nx.MultiDiGraph:
    case_path = tmp_path_factory.mktemp("graph") / "c.case"
    ingest_paths([str(INVICTUS)], case_path)
    with Case(case_path) as case:
        return load_graph(case)


def test_every_node_has_the_contract_attributes(invictus_graph: nx.MultiDiGraph) -> None:
    for _, attrs in invictus_graph.nodes(data=True):
        assert {"kind", "account", "first_seen", "last_seen"} <= attrs.keys()
        assert attrs["first_seen"] <= attrs["last_seen"]


def test_stolen_instance_key_authenticates_as_the_instance_session(invictus_graph: nx.MultiDiGraph) -> None:
    assert invictus_graph.has_edge(STOLEN_KEY, INSTANCE_SESSION, key="AUTHENTICATES")
    assert invictus_graph.has_edge(
        INSTANCE_SESSION, "arn:aws:iam::123837392027:role/stratus-red-team-ec2-steal-credentials-role", key="SESSION_OF"
    )
    assert invictus_graph.has_edge("ec2.amazonaws.com", STOLEN_KEY, key="MINTED")
    key = invictus_graph.nodes[STOLEN_KEY]
    assert key["temporary"] is True and key["lineage"] == "issuing-event"
    assert key["minted_by"] == "ec2.amazonaws.com"  # the AssumeRole EC2 made for the instance profile
    assert invictus_graph.has_edge(STOLEN_KEY, "3.225.16.109", key="FROM_IP")


def test_action_edges_aggregate_counts_errors_and_evidence(invictus_graph: nx.MultiDiGraph) -> None:
    edges = [
        (src, dst, attrs)
        for src, dst, name, attrs in invictus_graph.edges(keys=True, data=True)
        if name not in ("AUTHENTICATES", "MINTED", "SESSION_OF", "IN_ACCOUNT", "FROM_IP")
    ]
    assert edges
    for _, _, attrs in edges:
        assert attrs["count"] >= 1
        assert 0 < len(attrs["event_ids"]) <= min(attrs["count"], 20)
        assert attrs["error_count"] == sum(attrs["errors"].values())
    assert any(attrs["error_count"] for _, _, attrs in edges)


def test_assume_role_by_a_user_mints_a_key_that_acts_as_the_session(tmp_path: Path) -> None:
    case_path = tmp_path / "c.case"
    ingest_paths([str(STRATUS / "aws.defense-evasion.organizations-leave.json")], case_path)
    with Case(case_path) as case:
        graph = load_graph(case)
    user = "arn:aws:iam::307578594326:user/christophe"
    assert graph.has_edge(user, "ASIA36EV31F1RB3OA8IG", key="MINTED")
    assert graph.has_edge("AKIADVISM0T50G52IF0D", user, key="AUTHENTICATES")
    session = next(dst for _, dst, k in graph.out_edges("ASIA36EV31F1RB3OA8IG", keys=True) if k == "AUTHENTICATES")
    assert graph.nodes[session]["kind"] == "Session"
    assert graph.has_edge(user, session, key="AssumeRole")
    assert graph.edges[user, session, "AssumeRole"]["traversable"] is True
    assert graph.has_edge(session, "organizations.amazonaws.com", key="LeaveOrganization") or any(
        k == "LeaveOrganization" for _, _, k in graph.out_edges(session, keys=True)
    )
