"""The questions a responder types by hand, on the simulated organisation: each answers where it must and stays
empty where it must."""

from __future__ import annotations

from typing import Any

import neo4j
import pytest

from graphtrail.findings import Finding
from graphtrail.graphdb.hunts import CypherHuntError, finding_from_row, load_hunts, run_cypher_hunt
from tests.graphdb.conftest import SimulatedCase

HUNTS = {hunt.name: hunt for hunt in load_hunts()}


def run(driver: neo4j.Driver, name: str, **params: Any) -> list[Finding]:
    return run_cypher_hunt(driver, HUNTS[name], params)


def assert_connected(finding: Finding) -> None:
    hops = finding.path
    assert all(hop.event_ids or hop.action in ("AUTHENTICATES", "MINTED") for hop in hops)
    by_src = {hop.src for hop in hops}
    assert all(hop.dst in by_src or hop is max(hops, key=lambda h: h.time) or hop.dst in finding.resources
               for hop in hops)  # fmt: skip


def test_path_from_a_key_to_a_sensitive_bucket(loaded: neo4j.Driver, simulated: SimulatedCase) -> None:
    story = simulated.story("role-chain-exfiltration")
    bucket = next(s["target"] for s in story["steps"] if s["action"] == "PutBucketReplication")
    found = [
        f
        for key in story["attacker"]["keys"]
        for f in run(loaded, "path-to-sensitive-bucket", key=key, bucket_pattern=bucket)
    ]
    assert found
    for finding in found:
        assert finding.path[-1].dst == bucket and bucket in finding.resources
        chain = [hop.src for hop in finding.path] + [finding.path[-1].dst]
        assert all(finding.path[i].dst == chain[i + 1] for i in range(len(finding.path)))
    rotated = next(
        s["target"] for s in simulated.story("admin-key-rotation")["steps"] if s["action"] == "CreateAccessKey"
    )
    assert run(loaded, "path-to-sensitive-bucket", key=rotated, bucket_pattern=bucket) == []
    assert run(loaded, "path-to-sensitive-bucket", bucket_pattern=bucket) == []  # no key, no answer


def test_path_from_a_key_to_an_admin_session(loaded: neo4j.Driver, simulated: SimulatedCase) -> None:
    """The stolen SSO session's key chains through the CI deploy role into data-reader (the "admin" here)."""
    story = simulated.story("role-chain-exfiltration")
    target_role = next(
        s["target"] for s in story["steps"] if s["action"] == "AssumeRole" and "data-reader" in s["target"]
    )
    found = [f for key in story["attacker"]["keys"]
             for f in run(loaded, "path-to-admin-session", key=key, admin_pattern=".*data-reader.*")]  # fmt: skip
    assert any(len(f.path) >= 3 for f in found)
    for finding in found:
        assert target_role in finding.resources and "/data-reader/" in finding.path[-1].dst
        assert all(finding.path[i].dst == finding.path[i + 1].src for i in range(len(finding.path) - 1))
    ci_key = simulated.story("leaked-ci-key")["attacker"]["keys"][0]
    assert run(loaded, "path-to-admin-session", key=ci_key, admin_pattern=".*data-reader.*") == []


def test_blast_radius_of_a_stolen_instance_key(loaded: neo4j.Driver, simulated: SimulatedCase) -> None:
    story = simulated.story("stolen-instance-credentials")
    datalake = next(s["target"] for s in story["steps"] if s["action"] == "ListObjects")
    found = run(loaded, "key-blast-radius", key=story["attacker"]["keys"][0])
    reached = {r for f in found for r in f.resources}
    assert datalake in reached
    assert run(loaded, "key-blast-radius") == []


def test_role_chain_map_shows_the_cross_account_chain(loaded: neo4j.Driver, simulated: SimulatedCase) -> None:
    story = simulated.story("role-chain-exfiltration")
    roles = [s["target"] for s in story["steps"] if s["action"] == "AssumeRole"]
    chains = run(loaded, "cross-account-role-chains")
    assert any(set(roles) <= set(f.resources) for f in chains)
    for chain in chains:
        accounts = loaded.execute_query(
            "MATCH (n:GT) WHERE n.key IN $keys RETURN collect(DISTINCT n.account) AS accounts",
            keys=sorted(chain.principals),
        ).records[0]["accounts"]
        assert len(accounts) > 1, chain.title


def test_principals_from_outside_the_organisation(loaded: neo4j.Driver, simulated: SimulatedCase) -> None:
    own = set(simulated.truth["organization"]["accounts"].values())
    outside = {p for f in run(loaded, "outside-principals") for p in f.principals}
    external = set(simulated.truth["organization"]["external_accounts"])
    assert outside
    assert all(any(account in p for account in external) for p in outside)
    assert not any(p.split(":")[4] in own for p in outside if p.startswith("arn:"))
    assert {
        p for f in run(loaded, "outside-principals", own_accounts=sorted(own | external)) for p in f.principals
    } == set()


def test_keys_created_for_someone_else_then_used(loaded: neo4j.Driver, simulated: SimulatedCase) -> None:
    backdoor = next(s["target"] for s in simulated.story("leaked-ci-key")["steps"] if s["action"] == "CreateAccessKey")
    found = {f.path[0].dst: f for f in run(loaded, "key-created-for-other-user")}
    assert backdoor in found
    assert str(found[backdoor].severity) == "high"  # used after it was made
    assert len(found[backdoor].path) > 1


def test_a_row_without_a_path_is_refused() -> None:
    with pytest.raises(CypherHuntError, match="without a path"):
        finding_from_row(HUNTS["root-use"], {"title": "x", "path": []})
