"""Each Cypher twin and its networkx hunt return the same entities on the same case.

The networkx hunts read events; a Cypher twin reads the aggregated graph. What each pair is compared on is the
part both can see, named in the Cypher file's `compares` header and implemented below; on the simulated
organisation (every attack and decoy) the two sets are equal and not empty.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import neo4j
import pytest

from graphtrail.findings import Finding
from graphtrail.graphdb.hunts import CypherHunt, load_hunts, run_cypher_hunt
from tests.graphdb.conftest import SimulatedCase

SHARING = {"PutBucketReplication", "PutBucketPolicy", "PutBucketAcl", "ModifySnapshotAttribute",
           "ModifyImageAttribute", "ModifyDBSnapshotAttribute", "ModifyDBClusterSnapshotAttribute"}  # fmt: skip
INGRESS = {"AuthorizeSecurityGroupIngress", "ModifySecurityGroupRules"}
AT_LEAST_MEDIUM = {"medium", "high", "critical"}
Entities = set[Any]


def _hop_targets(findings: list[dict[str, Any]], actions: set[str]) -> Entities:
    return {hop["dst"] for f in findings for hop in f["path"] if hop["action"] in actions}


def _bucket_pairs_nx(findings: list[dict[str, Any]]) -> Entities:
    return {(p, r) for f in findings for p in f["principals"] for r in f["resources"] if ":s3:::" in r}


def _bucket_pairs_cypher(findings: list[Finding]) -> Entities:
    return {(p, r) for f in findings for p in f.principals for r in f.resources}


# twin -> (what the networkx findings give, what the Cypher findings give); see each file's `compares`.
COMPARED: dict[str, tuple[Callable[[list[dict[str, Any]]], Entities], Callable[[list[Finding]], Entities]]] = {
    "workload-key-outside-aws": (
        lambda nx: {k for f in nx for k in f["keys"]},
        lambda cy: {k for f in cy for k in f.keys},
    ),
    "attacker-tooling": (
        lambda nx: {p for f in nx if f["category"] != "initial-access:stale-tool-user-agent" for p in f["principals"]},
        lambda cy: {p for f in cy for p in f.principals},
    ),
    "root-use": (
        lambda nx: {p for f in nx for p in f["principals"] if p.endswith(":root")},
        lambda cy: {p for f in cy for p in f.principals},
    ),
    "defense-evasion": (
        lambda nx: {p for f in nx for p in f["principals"]},
        lambda cy: {p for f in cy for p in f.principals},
    ),
    "persistence-chain": (
        lambda nx: _hop_targets(nx, {"CreateAccessKey"}),
        lambda cy: {f.path[0].dst for f in cy},
    ),
    "new-key-used": (
        lambda nx: _hop_targets(
            [f for f in nx if f["category"] == "persistence:backdoor-key-used"], {"CreateAccessKey"}
        ),
        lambda cy: {f.path[0].dst for f in cy},
    ),
    "security-group-exposure": (
        lambda nx: _hop_targets([f for f in nx if f["severity"] in AT_LEAST_MEDIUM], INGRESS),
        lambda cy: {r for f in cy for r in f.resources},
    ),
    "exfiltration-setup": (
        lambda nx: _hop_targets([f for f in nx if f["severity"] in AT_LEAST_MEDIUM], SHARING),
        lambda cy: {r for f in cy for r in f.resources},
    ),
    "new-bucket-access": (_bucket_pairs_nx, _bucket_pairs_cypher),
}
TWINS = [hunt for hunt in load_hunts() if hunt.twin]


def test_every_twin_has_a_comparison() -> None:
    assert {hunt.twin for hunt in TWINS} == set(COMPARED)


@pytest.mark.parametrize("hunt", TWINS, ids=lambda hunt: hunt.name)
def test_cypher_twin_returns_the_same_entities_as_its_networkx_hunt(
    hunt: CypherHunt,
    loaded: neo4j.Driver,
    simulated: SimulatedCase,
) -> None:
    networkx_findings = [f for f in simulated.report["findings"] if f["hunt"] == hunt.twin]
    cypher_findings = run_cypher_hunt(loaded, hunt)
    from_networkx, from_cypher = (
        project(found) for project, found in zip(COMPARED[hunt.twin], (networkx_findings, cypher_findings), strict=True)
    )
    assert from_cypher == from_networkx
    assert from_cypher, f"{hunt.name} finds nothing on a case with every attack: the comparison would prove nothing"


def test_decoys_stay_quiet_in_the_cypher_twins(loaded: neo4j.Driver, simulated: SimulatedCase) -> None:
    """The look-alikes: a rule open to the corporate network, a snapshot shared with the organisation's backup
    account, an administrator rotating their own key."""
    by_name = {hunt.name: hunt for hunt in TWINS}
    groups = {r for f in run_cypher_hunt(loaded, by_name["security-group-exposure"]) for r in f.resources}
    corporate_group = next(
        s["target"]
        for s in simulated.story("corporate-sg-rule")["steps"]
        if s["action"] == "AuthorizeSecurityGroupIngress"
    )
    assert corporate_group not in groups
    backup = simulated.truth["organization"]["accounts"]["backup"]
    shares = run_cypher_hunt(loaded, by_name["exfiltration-setup"])
    assert shares and not any(backup in f.title or backup in f.narrative for f in shares)
    rotated = next(
        s["target"] for s in simulated.story("admin-key-rotation")["steps"] if s["action"] == "CreateAccessKey"
    )
    keys = {
        k
        for hunt in ("key-created-for-other-user", "new-key-used")
        for f in run_cypher_hunt(loaded, by_name[hunt])
        for k in f.keys
    }
    assert rotated not in keys
