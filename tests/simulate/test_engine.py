"""A whole simulation, end to end: layout, determinism, budget, ground truth, and that ingest reads it all."""

from __future__ import annotations

import gzip
import hashlib
import re
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from graphtrail.case import Case
from graphtrail.errors import GraphtrailError
from graphtrail.ingest import ingest_paths
from graphtrail.ipranges import AwsIpRanges
from graphtrail.simulate import SimulationConfig, SimulationSummary, simulate
from graphtrail.simulate.scenarios import all_scenarios

LOG_NAME = re.compile(
    r"^AWSLogs/(o-[a-z0-9]{10})/(\d{12})/CloudTrail/([a-z0-9-]+)/(\d{4})/(\d{2})/(\d{2})/"
    r"\2_CloudTrail_\3_(\d{8}T\d{4}Z)_[A-Za-z0-9]{16}\.json\.gz$"
)
DIGEST_NAME = re.compile(
    r"^AWSLogs/(o-[a-z0-9]{10})/(\d{12})/CloudTrail-Digest/([a-z0-9-]+)/\d{4}/\d{2}/\d{2}/"
    r"\2_CloudTrail-Digest_\3_org-trail_\3_\d{8}T\d{6}Z\.json\.gz$"
)
BUDGET = 9000


def _config(out: Path, **changes: Any) -> SimulationConfig:
    settings: dict[str, Any] = {"seed": 3, "days": 2, "events": BUDGET, "duplicate_rate": 0.004} | changes
    return SimulationConfig(out=out, **settings)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SimulationSummary]:
    out = tmp_path_factory.mktemp("sim") / "trail"
    return out, simulate(_config(out))


@pytest.fixture(scope="module")
def files(run: tuple[Path, SimulationSummary]) -> dict[str, list[dict[str, Any]]]:
    """Every log file's records, by path relative to the output folder."""
    out, _ = run
    found = {}
    for path in sorted(out.rglob("*.json.gz")):
        relative = path.relative_to(out).as_posix()
        if "/CloudTrail/" in relative:
            found[relative] = orjson.loads(gzip.decompress(path.read_bytes()))["Records"]
    return found


@pytest.fixture(scope="module")
def records(files: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    return {record["eventID"]: record for batch in files.values() for record in batch}


@pytest.fixture(scope="module")
def truth(run: tuple[Path, SimulationSummary]) -> dict[str, Any]:
    return orjson.loads((run[0] / "ground_truth.json").read_bytes())


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_gives_byte_identical_output(run: tuple[Path, SimulationSummary], tmp_path: Path) -> None:
    again = tmp_path / "again"
    simulate(_config(again))
    assert _tree(again) == _tree(run[0])


def test_another_seed_gives_another_trail(run: tuple[Path, SimulationSummary], tmp_path: Path) -> None:
    other = tmp_path / "other"
    simulate(_config(other, seed=4, events=2000, days=1, scenarios=["leaked-ci-key"]))
    assert set(_tree(other)).isdisjoint(p for p in _tree(run[0]) if p.endswith(".json.gz"))


def test_event_budget_is_met_within_two_percent(run: tuple[Path, SimulationSummary], records: dict) -> None:
    _, summary = run
    assert summary.events == len(records)
    assert abs(len(records) - BUDGET) <= BUDGET * 0.02


def test_files_follow_the_organization_trail_layout(
    run: tuple[Path, SimulationSummary], files: dict[str, list[dict[str, Any]]]
) -> None:
    out, summary = run
    digests = [p.relative_to(out).as_posix() for p in out.rglob("*.json.gz") if "CloudTrail-Digest" in str(p)]
    assert len(files) == summary.files and len(digests) == summary.digests > 0
    assert all(DIGEST_NAME.match(name) for name in digests)
    for name, batch in files.items():
        match = LOG_NAME.match(name)
        assert match, name
        _, account, region, year, month, day, stamp = match.groups()
        delivered = datetime.strptime(stamp, "%Y%m%dT%H%MZ").replace(tzinfo=UTC)
        assert (year, month, day) == (f"{delivered:%Y}", f"{delivered:%m}", f"{delivered:%d}")
        for record in batch:
            assert (record["recipientAccountId"], record["awsRegion"]) == (account, region)
            happened = datetime.fromisoformat(record["eventTime"].replace("Z", "+00:00"))
            assert happened < delivered  # a file holds what happened before its delivery


def test_records_inside_a_file_are_not_in_time_order(files: dict[str, list[dict[str, Any]]]) -> None:
    big = [batch for batch in files.values() if len(batch) >= 8]
    assert big
    assert any([r["eventTime"] for r in batch] != sorted(r["eventTime"] for r in batch) for batch in big)


def test_some_records_are_delivered_twice_in_different_files(
    run: tuple[Path, SimulationSummary], files: dict[str, list[dict[str, Any]]]
) -> None:
    where: dict[str, list[str]] = defaultdict(list)
    for name, batch in files.items():
        for record in batch:
            where[record["eventID"]].append(name)
    twice = {event_id: names for event_id, names in where.items() if len(names) > 1}
    assert len(twice) == run[1].duplicates > 0
    assert all(len(set(names)) == len(names) for names in twice.values())


def test_digests_list_the_hours_log_files_with_their_hash(run: tuple[Path, SimulationSummary]) -> None:
    out, _ = run
    listed = 0
    for path in out.rglob("*CloudTrail-Digest_*.json.gz"):
        digest = orjson.loads(gzip.decompress(path.read_bytes()))
        assert "Records" not in digest and digest["digestEndTime"] > digest["digestStartTime"]
        for entry in digest["logFiles"]:
            body = gzip.decompress((out / entry["s3Object"]).read_bytes())
            assert hashlib.sha256(body).hexdigest() == entry["hashValue"]
            listed += 1
    assert listed == run[1].files


def test_records_carry_the_fields_real_records_have(records: dict[str, dict[str, Any]]) -> None:
    required = {"eventVersion", "userIdentity", "eventTime", "eventSource", "eventName", "awsRegion",
                "sourceIPAddress", "userAgent", "requestParameters", "responseElements", "requestID", "eventID",
                "readOnly", "eventType", "managementEvent", "recipientAccountId", "eventCategory"}  # fmt: skip
    for record in records.values():
        assert required <= record.keys(), record["eventName"]
        assert isinstance(record["readOnly"], bool) and isinstance(record["managementEvent"], bool)
        assert record["eventCategory"] == ("Management" if record["managementEvent"] else "Data")
        identity = record["userIdentity"]
        if identity["type"] == "AWSService" or identity.get("invokedBy"):
            assert "tlsDetails" not in record
        context = identity.get("sessionContext")
        if identity["type"] == "AssumedRole":
            assert context["sessionIssuer"]["arn"].startswith(f"arn:aws:iam::{identity['accountId']}:role/")
            assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", context["attributes"]["creationDate"])
            assert context["attributes"]["mfaAuthenticated"] in ("true", "false")
    by_kind = defaultdict(set)
    for record in records.values():
        context = record["userIdentity"].get("sessionContext") or {}
        if "ec2RoleDelivery" in context:
            by_kind["ec2"].add(record["userIdentity"]["arn"].rsplit("/", 1)[-1][:2])
        if "sourceIdentity" in context:
            by_kind["source-identity"].add(context["sourceIdentity"])
        if record["eventName"] in ("AssumeRole", "AssumeRoleWithSAML", "GetFederationToken"):
            credentials = record["responseElements"]["credentials"]
            assert credentials["accessKeyId"].startswith("ASIA") and credentials["sessionToken"]
    assert by_kind["ec2"] == {"i-"}  # instance-profile sessions are named by instance id
    assert "ci-pipeline" in by_kind["source-identity"]


def test_cross_account_copies_share_shared_event_id_and_request_id(records: dict[str, dict[str, Any]]) -> None:
    copies: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in records.values():
        if "sharedEventID" in record:
            copies[record["sharedEventID"]].append(record)
    pairs = [group for group in copies.values() if len(group) == 2]
    assert pairs
    for first, second in pairs:
        assert first["requestID"] == second["requestID"] and first["eventID"] != second["eventID"]
        assert first["recipientAccountId"] != second["recipientAccountId"]
        owner = first if first["userIdentity"]["type"] == "AWSAccount" else second
        caller = second if owner is first else first
        assert owner["userIdentity"]["accountId"] == caller["userIdentity"]["accountId"]
        assert "accessKeyId" not in owner["userIdentity"]
    singles = [group[0] for group in copies.values() if len(group) == 1]
    for single in singles:  # only a principal outside the organisation leaves one copy in the org's trail
        assert single["userIdentity"]["type"] == "AWSAccount"
    assert all(len(group) <= 2 for group in copies.values())


def test_kms_calls_name_one_key_material_per_key(records: dict[str, dict[str, Any]]) -> None:
    # KMS logs the id of the key material a call used: the same for every call until the key rotates.
    materials: dict[str, set[str]] = defaultdict(set)
    for record in records.values():
        if record["eventSource"] == "kms.amazonaws.com" and "keyMaterialId" in (
            record.get("additionalEventData") or {}
        ):
            materials[record["resources"][0]["ARN"]].add(record["additionalEventData"]["keyMaterialId"])
    assert materials
    assert all(len(ids) == 1 and re.fullmatch(r"[0-9a-f]{64}", next(iter(ids))) for ids in materials.values())
    assert len({next(iter(ids)) for ids in materials.values()}) == len(materials)


def test_every_ground_truth_event_id_is_in_the_trail(truth: dict[str, Any], records: dict) -> None:
    stories = truth["scenarios"] + truth["decoys"]
    assert {s["name"] for s in stories} == {spec.name for spec in all_scenarios()}
    for story in stories:
        assert story["steps"], story["name"]
        for step in story["steps"]:
            for event_id in step["event_ids"]:
                assert event_id in records, (story["name"], step["action"])
                assert records[event_id]["recipientAccountId"] in (step["account"], *truth["organization"][
                    "accounts"].values())  # fmt: skip
        times = [step["time"] for step in story["steps"]]
        assert times == sorted(times)


def test_attackers_come_from_outside_aws_and_outside_the_organisation(truth: dict[str, Any]) -> None:
    ranges = AwsIpRanges.load()
    for story in truth["scenarios"]:
        assert story["attacker"]["ips"], story["name"]
        for ip in story["attacker"]["ips"]:
            assert not ranges.is_aws(ip) and not ip.startswith("62.210.16.")


def test_ingest_reads_everything_with_zero_rejects(run: tuple[Path, SimulationSummary], tmp_path: Path) -> None:
    out, summary = run
    result = ingest_paths([str(out)], tmp_path / "sim.case", workers=1)
    assert result.records_rejected == 0 and not result.files_rejected
    assert result.files_skipped == {"digest": summary.digests, "ground-truth": 1}
    assert result.events_ingested == summary.events
    assert result.balanced


def test_ingested_lineage_follows_the_ci_chain_back_to_the_runner(
    run: tuple[Path, SimulationSummary], truth: dict[str, Any], records: dict, tmp_path: Path
) -> None:
    case_path = tmp_path / "sim.case"
    ingest_paths([str(run[0])], case_path, workers=1)
    chain = next(d for d in truth["decoys"] if d["name"] == "ci-role-chain")
    assume = next(records[i] for i in chain["steps"][0]["event_ids"] if "accessKeyId" in records[i]["userIdentity"])
    deploy_key = assume["responseElements"]["credentials"]["accessKeyId"]
    runner_key = assume["userIdentity"]["accessKeyId"]
    with Case(case_path) as case:
        lineage = case.lineage()
    assert lineage[deploy_key].method == "issuing-event" and lineage[deploy_key].issuer_key == runner_key
    assert lineage[runner_key].method in ("issuing-event", "ec2-instance-profile")
    unresolved = [key for key, item in lineage.items() if item.method == "unresolved"]
    assert len(unresolved) <= len(lineage) * 0.05


def test_refuses_a_folder_that_holds_other_files(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(GraphtrailError, match="not empty"):
        simulate(_config(tmp_path, events=100, days=1, scenarios=[]))


def test_overwrite_replaces_an_earlier_simulation(tmp_path: Path) -> None:
    out = tmp_path / "sim"
    simulate(_config(out, events=500, days=1, scenarios=[]))
    with pytest.raises(GraphtrailError, match="--overwrite"):
        simulate(_config(out, events=500, days=1, scenarios=[]))
    simulate(_config(out, events=500, days=1, scenarios=[], overwrite=True, seed=9))
    assert orjson.loads((out / "ground_truth.json").read_bytes())["generator"]["seed"] == 9


def test_unknown_scenario_is_refused_with_the_known_names(tmp_path: Path) -> None:
    with pytest.raises(GraphtrailError, match="unknown scenario nope; known: leaked-ci-key"):
        simulate(_config(tmp_path / "x", scenarios=["nope"]))
