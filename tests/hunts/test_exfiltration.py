from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from graphtrail.findings import Severity
from graphtrail.hunts.config import HuntConfig
from graphtrail.hunts.context import HuntContext
from tests.conftest import STRATUS
from tests.hunts.conftest import (
    SimulatedCase,
    attack_events,
    covering,
    flagged_decoys,
    panther_record,
    real_case,
    records_case,
    run,
    run_on,
)


def test_replication_to_an_outside_account_after_the_chain_read_the_bucket_is_critical(
    context: HuntContext, simulated: SimulatedCase
) -> None:
    findings = run(context, "exfiltration-setup")
    story = "role-chain-exfiltration"
    replication = simulated.step_events(story, "PutBucketReplication")
    (finding,) = covering(findings, replication)
    assert finding.severity == Severity.CRITICAL
    assert finding.category == "exfiltration:bucket-replication-to-external-account"
    # the reads were the data-reader session's, the replication the deploy session's: one lineage
    assert simulated.step_events(story, "bulk-GetObject") <= set(finding.event_ids)
    attacker = simulated.story(story)["attacker"]
    assert finding.ips == set(attacker["ips"]) and finding.keys <= set(attacker["keys"])
    assert "566417161154" in finding.narrative
    assert "T1537" in finding.as_dict()["attack"]


def test_snapshot_shared_outside_and_bucket_made_public_are_high(
    context: HuntContext, simulated: SimulatedCase
) -> None:
    findings = run(context, "exfiltration-setup")
    (snapshot,) = covering(findings, simulated.step_events("exposure", "ModifySnapshotAttribute"))
    (bucket,) = covering(findings, simulated.step_events("exposure", "PutBucketPolicy"))
    assert snapshot.severity == bucket.severity == Severity.HIGH
    assert snapshot.category == "exfiltration:snapshot-shared-externally"
    assert bucket.category == "exfiltration:bucket-made-public"


def test_sharing_with_the_organisations_backup_account_is_info(context: HuntContext, simulated: SimulatedCase) -> None:
    findings = run(context, "exfiltration-setup")
    (share,) = covering(findings, simulated.step_events("backup-snapshot-share"))
    assert share.severity == Severity.INFO and "not exfiltration" in share.narrative
    assert flagged_decoys(findings, simulated, Severity.LOW) == []


def test_exfiltration_setup_stays_quiet_on_baseline_activity(context: HuntContext, simulated: SimulatedCase) -> None:
    findings = run(context, "exfiltration-setup")
    attack = attack_events(simulated)
    assert len([f for f in findings if f.severity >= Severity.LOW]) == 3
    assert all(set(f.event_ids) <= attack for f in findings if f.severity >= Severity.LOW)


def test_an_account_left_out_of_configured_own_accounts_is_outside(simulated: SimulatedCase) -> None:
    """own_accounts set without the backup account: the same share is now to an outside account."""
    org = simulated.truth["organization"]["accounts"]
    config = HuntConfig(own_accounts=tuple(a for name, a in org.items() if name != "backup"))
    findings = run_on(simulated.path, "exfiltration-setup", config)
    (share,) = covering(findings, simulated.step_events("backup-snapshot-share"))
    assert share.severity == Severity.HIGH


def test_real_stratus_snapshot_ami_and_rds_shares_are_found(tmp_path: Path) -> None:
    names = ("ec2-share-ebs-snapshot", "ec2-share-ami", "rds-share-snapshot")
    findings = run_on(real_case(tmp_path, [STRATUS / f"aws.exfiltration.{name}.json" for name in names]),
                      "exfiltration-setup")  # fmt: skip
    assert {f.category for f in findings} == {
        "exfiltration:snapshot-shared-externally",
        "exfiltration:ami-shared-externally",
        "exfiltration:rds-snapshot-shared-externally",
    }
    assert all(f.severity == Severity.HIGH for f in findings)


def test_real_invictus_backdoor_bucket_policy_is_found_but_trail_bucket_policies_and_unshares_are_not(
    invictus_case: Path,
) -> None:
    findings = run_on(invictus_case, "exfiltration-setup")
    actions = sorted(hop.action for f in findings for hop in f.path)
    # two PutBucketPolicy for CloudTrail's service principal and the AMI/snapshot/RDS removals are not reported
    assert actions == [
        "ModifyDBSnapshotAttribute",
        "ModifyImageAttribute",
        "ModifySnapshotAttribute",
        "PutBucketPolicy",
    ]
    (policy,) = [f for f in findings if f.path[0].action == "PutBucketPolicy"]
    assert policy.category == "exfiltration:bucket-shared-externally" and "193672423079" in policy.narrative


def test_real_panther_records_non_shares_are_not_reported_and_refused_shares_are_medium(tmp_path: Path) -> None:
    quiet = [
        panther_record("AWS.CloudTrail.AMIModifiedForPublicAccess", "AMI Not Made Public"),
        panther_record("AWS.CloudTrail.AMIModifiedForPublicAccess", "AMI Added to User"),  # "bob" is no account
        panther_record("AWS.CloudTrail.SnapshotMadePublic", "Snapshot Not Made Publicly Accessible"),
        panther_record("AWS.RDS.SnapshotShared", "Snapshot shared with no accounts"),
        panther_record("AWS.CloudTrail.ResourceMadePublic", "S3 Not Made Publicly Accessible"),
        panther_record("AWS.S3.BucketPolicyModified", "S3 Bucket Policy Modified"),  # a private canned ACL
    ]
    refused = panther_record("AWS.CloudTrail.ResourceMadePublic", "S3 Failed to make Publicly Accessible")
    public = panther_record("AWS.CloudTrail.SnapshotMadePublic", "Snapshot Made Publicly Accessible")
    records = [record | {"eventID": f"panther-{n}"} for n, record in enumerate([*quiet, refused, public])]
    findings = run_on(records_case(tmp_path, records), "exfiltration-setup")
    by_event = {f.event_ids[0].split("~")[0]: f for f in findings}  # the case suffixes ids that are not UUIDs
    assert set(by_event) == {f"panther-{len(quiet)}", f"panther-{len(quiet) + 1}"}
    assert by_event[f"panther-{len(quiet)}"].severity == Severity.MEDIUM  # AccessDenied: tried, not done
    assert by_event[f"panther-{len(quiet) + 1}"].category == "exfiltration:snapshot-made-public"


def test_public_acl_acceleration_and_datasync_to_another_account_are_rated(tmp_path: Path) -> None:
    """No public log has these calls (the reference calls their shapes unverified): they are written here on
    the envelope of a real Stratus record, with the request shapes of the S3 and DataSync APIs."""
    (envelope,) = json.loads((STRATUS / "aws.exfiltration.ec2-share-ebs-snapshot.json").read_text())
    account = envelope["recipientAccountId"]

    def call(n: int, source: str, name: str, request: dict[str, Any], response: Any = None) -> dict[str, Any]:
        record = copy.deepcopy(envelope)
        record.update(eventID=f"crafted-{n}", eventTime=f"2024-08-01T13:{n:02d}:00Z", eventSource=source,
                      eventName=name, requestParameters=request, responseElements=response)  # fmt: skip
        return record

    location = f"arn:aws:datasync:us-east-1:{account}:location/loc-0a1"
    outside = "arn:aws:datasync:us-east-1:111122223333:location/loc-0b2"
    records = [
        envelope,  # the real share, an hour earlier: the baseline
        call(10, "s3.amazonaws.com", "PutBucketAcl", {"bucketName": "exports", "x-amz-acl": ["public-read"]}),
        call(11, "s3.amazonaws.com", "PutBucketAccelerateConfiguration",
             {"bucketName": "exports", "AccelerateConfiguration": {"Status": "Enabled"}}),
        call(12, "datasync.amazonaws.com", "CreateLocationS3", {"s3BucketArn": "arn:aws:s3:::exports"},
             {"locationArn": location}),
        call(13, "datasync.amazonaws.com", "CreateTask",
             {"sourceLocationArn": location, "destinationLocationArn": outside, "name": "nightly-copy"},
             {"taskArn": f"arn:aws:datasync:us-east-1:{account}:task/task-0c3"}),
    ]  # fmt: skip
    findings = {f.category: f for f in run_on(records_case(tmp_path, records), "exfiltration-setup")}
    assert findings["exfiltration:bucket-made-public"].severity == Severity.HIGH
    assert findings["exfiltration:transfer-acceleration-enabled"].severity == Severity.LOW
    datasync = findings["exfiltration:datasync-task"]
    assert datasync.severity == Severity.HIGH and "in another account" in datasync.narrative
    assert [hop.action for hop in datasync.path] == ["CreateLocationS3", "CreateTask"]
