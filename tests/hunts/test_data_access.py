from __future__ import annotations

import copy
from pathlib import Path

from graphtrail.case import Case
from graphtrail.findings import Finding, Severity
from graphtrail.hunts.config import HuntConfig, Thresholds
from graphtrail.hunts.context import HuntContext
from tests.hunts.conftest import (
    SimulatedCase,
    attack_events,
    covering,
    flagged_decoys,
    panther_record,
    records_case,
    run,
    run_on,
)


def of_actor(findings: list[Finding], fragment: str) -> list[Finding]:
    return [f for f in findings if any(fragment in principal for principal in f.principals)]


# -- bulk-data-read ------------------------------------------------------------------------------------------


def test_instance_credentials_copying_the_data_lake_from_outside_aws_is_a_high_bulk_read(
    context: HuntContext, simulated: SimulatedCase
) -> None:
    findings = run(context, "bulk-data-read")
    story = "stolen-instance-credentials"
    download = simulated.step_events(story, "bulk-download")
    (finding,) = covering(findings, download)
    assert download <= set(finding.event_ids)
    assert simulated.step_events(story, "ListBuckets") <= set(finding.event_ids)  # the listing that led to it
    assert finding.severity == Severity.HIGH
    attacker = simulated.story(story)["attacker"]
    assert finding.keys == set(attacker["keys"]) and finding.ips == set(attacker["ips"])
    assert "T1530" in finding.as_dict()["attack"]
    assert "GB" in finding.narrative and attacker["ips"][0] in finding.narrative


def test_the_role_chain_reading_the_data_lake_is_a_high_bulk_read(
    context: HuntContext, simulated: SimulatedCase
) -> None:
    findings = run(context, "bulk-data-read")
    burst = simulated.step_events("role-chain-exfiltration", "bulk-GetObject")
    (finding,) = covering(findings, burst)
    assert burst <= set(finding.event_ids)
    assert finding.severity == Severity.HIGH


def test_the_nightly_etl_is_info_every_night_because_the_baseline_shows_it(
    context: HuntContext, simulated: SimulatedCase
) -> None:
    findings = run(context, "bulk-data-read")
    nightly = of_actor(findings, "assumed-role/etl-job/")
    assert len(nightly) == 3  # one per night of the three-day case, the later two after the baseline
    assert {f.severity for f in nightly} == {Severity.INFO}
    assert all("usual job" in f.narrative for f in nightly)
    assert flagged_decoys(findings, simulated, Severity.LOW) == []


def test_bulk_reads_stay_quiet_on_baseline_activity(context: HuntContext, simulated: SimulatedCase) -> None:
    findings = run(context, "bulk-data-read")
    attack = attack_events(simulated)
    flagged = [f for f in findings if f.severity >= Severity.LOW]
    assert len(flagged) == 2 and all(set(f.event_ids) <= attack for f in flagged)


def test_a_lower_object_threshold_makes_the_federated_session_reads_bulk(simulated: SimulatedCase) -> None:
    """15 objects are below the default 50; configured lower, the federation-token session's reads qualify."""
    config = HuntConfig(thresholds=Thresholds(bulk_objects=10))
    findings = run_on(simulated.path, "bulk-data-read", config)
    reads = simulated.step_events("federation-token-persistence", "bulk-download")
    (finding,) = covering(findings, reads)
    assert finding.severity == Severity.HIGH


# -- new-bucket-access -----------------------------------------------------------------------------------------


def test_first_access_to_the_data_lake_by_stolen_sessions_is_high(
    context: HuntContext, simulated: SimulatedCase
) -> None:
    findings = run(context, "new-bucket-access")
    stolen = covering(findings, simulated.step_events("stolen-instance-credentials", "bulk-download"))
    chained = covering(findings, simulated.step_events("role-chain-exfiltration", "bulk-GetObject"))
    assert len(stolen) == 1 and len(chained) == 1
    assert stolen[0].severity == chained[0].severity == Severity.HIGH
    # app-server reads the web assets every day, never the data lake; data-reader was never used before
    assert "role/app-server never read" in stolen[0].narrative
    assert "data-reader itself made no call in the baseline" in chained[0].narrative
    assert simulated.step_events("stolen-instance-credentials", "ListObjects") <= set(stolen[0].event_ids)


def test_new_bucket_access_stays_quiet_on_baseline_and_decoys(context: HuntContext, simulated: SimulatedCase) -> None:
    findings = run(context, "new-bucket-access")
    attack = attack_events(simulated)
    assert findings and all(set(f.event_ids) <= attack for f in findings)
    assert flagged_decoys(findings, simulated, Severity.LOW) == []


def test_real_records_a_new_user_writing_a_bucket_is_found_and_a_known_writer_is_not(tmp_path: Path) -> None:
    """Panther's ransomware-note test records: a user known from the baseline writes its usual bucket again;
    a user never seen before writes another bucket from an outside address."""
    known = panther_record("AWS.S3.RansomwareNoteUpload", "Normal File Upload - quarterly_report.pdf")
    earlier = copy.deepcopy(known) | {"eventID": "baseline-put", "eventTime": "2025-12-01T10:00:00Z"}
    intruder = panther_record("AWS.S3.RansomwareNoteUpload", "Ransomware Note - HOW_TO_DECRYPT_FILES.txt")
    with Case(records_case(tmp_path, [earlier, known, intruder])) as case:
        context = HuntContext(case)
        (finding,) = run(context, "new-bucket-access")
        assert run(context, "bulk-data-read") == []
    assert finding.principals == {"arn:aws:iam::111111111111:user/compromised-user"}
    assert finding.severity == Severity.HIGH and finding.ips == {"1.2.3.4"}


# -- off-hours-data-access ---------------------------------------------------------------------------------------


def test_night_reads_through_a_role_chain_are_pinned_on_the_person_who_started_it(
    context: HuntContext, simulated: SimulatedCase
) -> None:
    findings = run(context, "off-hours-data-access")
    burst = simulated.step_events("role-chain-exfiltration", "bulk-GetObject")
    (finding,) = covering(findings, burst)
    assert burst <= set(finding.event_ids)
    assert finding.severity == Severity.HIGH
    assert "grace.kim@northwind.example" in finding.title
    assert "descending from that person" in finding.narrative


def test_night_listings_from_new_addresses_by_taken_over_users_are_medium(
    context: HuntContext, simulated: SimulatedCase
) -> None:
    findings = run(context, "off-hours-data-access")
    for story, actor in (("root-console-takeover", ":root"), ("login-profile-backdoor", "user/billing-viewer")):
        (finding,) = of_actor(findings, actor)
        assert finding.severity == Severity.MEDIUM
        assert finding.ips <= set(simulated.story(story)["attacker"]["ips"])


def test_off_hours_stays_quiet_on_people_who_work_late_in_the_baseline(
    context: HuntContext, simulated: SimulatedCase
) -> None:
    findings = run(context, "off-hours-data-access")
    attack = attack_events(simulated)
    assert len(findings) == 3  # the role chain, root and billing-viewer: nothing about the usual night owls
    assert all(set(f.event_ids) <= attack for f in findings)
    assert flagged_decoys(findings, simulated, Severity.INFO) == []  # the ETL task is not a person


def test_real_records_evening_writes_are_off_hours_when_work_ends_at_five(tmp_path: Path) -> None:
    known = panther_record("AWS.S3.RansomwareNoteUpload", "Normal File Upload - quarterly_report.pdf")
    earlier = copy.deepcopy(known) | {"eventID": "baseline-put", "eventTime": "2025-12-01T10:00:00Z"}
    intruder = panther_record("AWS.S3.RansomwareNoteUpload", "Ransomware Note - HOW_TO_DECRYPT_FILES.txt")
    case_path = records_case(tmp_path, [earlier, known, intruder])
    with Case(case_path) as case:
        assert run(HuntContext(case), "off-hours-data-access") == []  # 18:00 is working time by default
        config = HuntConfig(thresholds=Thresholds(work_hours=(9, 17)))
        findings = {next(iter(f.principals)).rsplit("/", 1)[-1]: f for f in run(HuntContext(case, config),
                                                                               "off-hours-data-access")}  # fmt: skip
    assert findings["compromised-user"].severity == Severity.MEDIUM  # from an address new for them
    assert findings["legitimate-user"].severity == Severity.LOW  # their own address, just late
