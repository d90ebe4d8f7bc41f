from __future__ import annotations

import copy

from graphtrail.cloudtrail.normalize import normalize_record
from graphtrail.lineage import Issuance, KeyUse, chain_of, resolve_lineage
from tests.conftest import AWSDOCS, STRATUS, find, load_records


def _use(record: dict) -> KeyUse:
    event = normalize_record(copy.deepcopy(record))
    principal = event.principal
    return KeyUse(
        access_key_id=event.access_key_id,
        acts_as=principal.key,
        role_arn=principal.issuer_arn,
        session_name=principal.session_name,
        session_created=principal.creation_date.strftime("%Y-%m-%dT%H:%M:%SZ") if principal.creation_date else None,
        ec2_role_delivery=principal.ec2_role_delivery,
        workload=principal.in_scope_of,
    )


def _issuance(record: dict) -> Issuance:
    issuance = Issuance.from_event(normalize_record(copy.deepcopy(record)))
    assert issuance is not None
    return issuance


def test_federation_token_key_is_attributed_to_the_akia_caller() -> None:
    records = load_records(STRATUS / "aws.persistence.sts-federation-token.json")
    issuing = find(records, lambda r: r["eventName"] == "GetFederationToken")
    using = find(records, lambda r: r["userIdentity"]["type"] == "FederatedUser")
    lineage = resolve_lineage([_issuance(issuing)], [_use(using)])
    hop = lineage["ASIASTJKC5GCM7ZE6LUP"]
    assert hop.method == "issuing-event"
    assert hop.issuer_key == "AKIA6V1GNZTT65XQH36M"
    assert hop.issuer is not None and ":user/" in hop.issuer
    assert hop.via == "GetFederationToken"
    assert hop.session_key is not None and ":federated-user/" in hop.session_key


def test_assumed_role_key_chains_back_to_long_term_key() -> None:
    records = load_records(STRATUS / "aws.defense-evasion.organizations-leave.json")
    issuances = [_issuance(r) for r in records if r["eventName"] == "AssumeRole"]
    use = _use(find(records, lambda r: r["eventName"] == "LeaveOrganization"))
    lineage = resolve_lineage(issuances, [use])
    chain = chain_of("ASIA36EV31F1RB3OA8IG", lineage)
    assert [hop.issuer_key for hop in chain] == ["AKIADVISM0T50G52IF0D"]
    assert chain[0].issuer == "arn:aws:iam::307578594326:user/christophe"
    # the other AssumeRole minted a different key, which must not be confused with this one
    assert lineage["ASIAMOWPWQJ1QHWCWJXJ"].time == "2024-08-02T08:29:59Z"
    assert chain[0].time == "2024-08-02T08:30:00Z"


def test_session_matched_by_role_name_and_creation_date_when_response_is_missing() -> None:
    records = load_records(STRATUS / "aws.defense-evasion.organizations-leave.json")
    issuing = [copy.deepcopy(r) for r in records if r["eventName"] == "AssumeRole"]
    for record in issuing:
        record["responseElements"] = None  # as when a response is over 100 KB
    use = _use(find(records, lambda r: r["eventName"] == "LeaveOrganization"))
    lineage = resolve_lineage([_issuance(r) for r in issuing], [use])
    hop = lineage["ASIA36EV31F1RB3OA8IG"]
    assert hop.method == "session-match"
    assert hop.issuer_key == "AKIADVISM0T50G52IF0D"
    assert hop.time == "2024-08-02T08:30:00Z"  # the issuance whose time matches creationDate, not the earlier one


def test_session_match_refuses_a_creation_date_far_from_any_issuance() -> None:
    records = load_records(STRATUS / "aws.defense-evasion.organizations-leave.json")
    issuing = [copy.deepcopy(r) for r in records if r["eventName"] == "AssumeRole"]
    for record in issuing:
        record["responseElements"] = None
    using = find(records, lambda r: r["eventName"] == "LeaveOrganization")
    using["userIdentity"]["sessionContext"]["attributes"]["creationDate"] = "2024-08-02T09:30:00Z"
    lineage = resolve_lineage([_issuance(r) for r in issuing], [_use(using)])
    assert lineage["ASIA36EV31F1RB3OA8IG"].method == "unresolved"


def test_cross_account_copies_join_on_shared_event_id() -> None:
    docs = load_records(AWSDOCS / "iam-user-guide_examples.jsonl")
    caller_copy = find(docs, lambda r: r["eventName"] == "AssumeRole" and r["userIdentity"]["type"] == "IAMUser")
    owner_copy = find(docs, lambda r: r["eventName"] == "AssumeRole" and r["userIdentity"]["type"] == "AWSAccount")
    # Real copies carry distinct eventIDs (the sanitized doc example does not), and here the caller's copy
    # lost its response, so only the owner's copy names the key.
    caller_copy["eventID"] = "caller-copy"
    caller_copy["responseElements"] = None
    lineage = resolve_lineage([_issuance(owner_copy), _issuance(caller_copy)], [])
    hop = lineage["AKIAQRSTUVWXYZEXAMPLE"]  # the doc example puts an AKIA in the STS response
    assert hop.method == "shared-event"
    assert hop.issuer == "arn:aws:iam::777788889999:user/JohnDoe"
    assert hop.issuer_key == "AKIAQRSTUVWXYZEXAMPLE"
    assert hop.session_key == "arn:aws:sts::111122223333:assumed-role/EC2-dev/JohnDoe-EC2-dev"


def test_owner_copy_alone_names_only_the_calling_account() -> None:
    docs = load_records(AWSDOCS / "iam-user-guide_examples.jsonl")
    owner_copy = find(docs, lambda r: r["eventName"] == "AssumeRole" and r["userIdentity"]["type"] == "AWSAccount")
    hop = resolve_lineage([_issuance(owner_copy)], [])["AKIAQRSTUVWXYZEXAMPLE"]
    assert (hop.method, hop.issuer, hop.issuer_kind) == ("issuing-event", "777788889999", "Account")


def test_ec2_instance_key_without_issuing_event_is_attributed_to_ec2(invictus: list[dict]) -> None:
    using = find(invictus, lambda r: r["userIdentity"].get("sessionContext", {}).get("ec2RoleDelivery"))
    hop = resolve_lineage([], [_use(using)])[using["userIdentity"]["accessKeyId"]]
    assert (hop.method, hop.issuer, hop.issuer_kind) == ("ec2-instance-profile", "ec2.amazonaws.com", "Service")
    assert hop.session_key is not None and hop.session_key.endswith("/i-0dbc91f429e48eeed")


def _hop(key: str, issuer: str, issuer_key: str | None, when: str) -> Issuance:
    return Issuance(
        event_id=f"ev-{key}", time=when, via="AssumeRole", access_key_id=key, issuer=issuer, issuer_kind="Session",
        issuer_key=issuer_key, session_key=f"arn:aws:sts::111111111111:assumed-role/r/{key}", role_arn=None,
        session_name=key, source_identity=None, source_ip="198.51.100.7", user_agent=None, account="111111111111",
        shared_event_id=None,
    )  # fmt: skip


def test_multi_hop_chain_ends_at_the_long_term_key_and_survives_cycles() -> None:
    issuances = [
        _hop(
            "ASIAFIRSTHOP0000000A", "arn:aws:iam::111111111111:user/ci", "AKIAORIGIN0000000000", "2024-01-01T00:00:00Z"
        ),
        _hop("ASIASECONDHOP000000B", "s1", "ASIAFIRSTHOP0000000A", "2024-01-01T00:01:00Z"),
        _hop("ASIATHIRDHOP0000000C", "s2", "ASIASECONDHOP000000B", "2024-01-01T00:02:00Z"),
    ]
    lineage = resolve_lineage(issuances, [])
    chain = chain_of("ASIATHIRDHOP0000000C", lineage)
    assert [hop.access_key_id for hop in chain] == [
        "ASIATHIRDHOP0000000C",
        "ASIASECONDHOP000000B",
        "ASIAFIRSTHOP0000000A",
    ]
    assert chain[-1].issuer_key == "AKIAORIGIN0000000000"
    looped = resolve_lineage([_hop("ASIALOOPA00000000000", "x", "ASIALOOPB00000000000", "t"),
                              _hop("ASIALOOPB00000000000", "y", "ASIALOOPA00000000000", "t")], [])  # fmt: skip
    assert len(chain_of("ASIALOOPA00000000000", looped)) == 2


def _user_use(key: str, console: bool) -> KeyUse:
    return KeyUse(
        access_key_id=key, acts_as="arn:aws:iam::123456789012:user/alice", role_arn=None, session_name=None,
        session_created="2024-05-01T10:00:03Z", ec2_role_delivery=None, workload=None, acts_as_kind="User",
        console=console,
    )  # fmt: skip


def test_console_session_key_is_tied_to_the_users_sign_in() -> None:
    from graphtrail.lineage import SignIn

    asked = []

    def find_sign_in(principal: str, before: str) -> SignIn | None:
        asked.append((principal, before))
        return SignIn("login-1", "2024-05-01T10:00:02Z", "198.51.100.7", "Mozilla/5.0")

    hop = resolve_lineage([], [_user_use("ASIACONSOLE000000001", True)], find_sign_in)["ASIACONSOLE000000001"]
    assert (hop.method, hop.issuer, hop.event_id, hop.source_ip) == (
        "console-session",
        "arn:aws:iam::123456789012:user/alice",
        "login-1",
        "198.51.100.7",
    )
    assert asked == [("arn:aws:iam::123456789012:user/alice", "2024-05-01T10:00:08Z")]


def test_users_own_session_key_without_issuing_event_is_the_users() -> None:
    hop = resolve_lineage([], [_user_use("ASIAUSERSESSION00001", False)])["ASIAUSERSESSION00001"]
    assert (hop.method, hop.issuer, hop.via, hop.issuer_key) == (
        "user-session",
        "arn:aws:iam::123456789012:user/alice",
        "GetSessionToken",
        None,
    )


def test_session_match_never_borrows_an_issuance_that_named_another_key() -> None:
    records = load_records(STRATUS / "aws.defense-evasion.organizations-leave.json")
    issuing = [copy.deepcopy(r) for r in records if r["eventName"] == "AssumeRole"]
    using = find(records, lambda r: r["eventName"] == "LeaveOrganization")
    using["userIdentity"]["accessKeyId"] = "ASIAANOTHERKEY000001"  # same session, a key no response names
    lineage = resolve_lineage([_issuance(r) for r in issuing], [_use(using)])
    assert lineage["ASIAANOTHERKEY000001"].method == "unresolved"


def test_workload_session_without_issuing_event_is_attributed_by_its_scope() -> None:
    from graphtrail.cloudtrail.event import Fields
    from graphtrail.cloudtrail.identity import resolve_principal

    identity = {
        "type": "AssumedRole", "principalId": "AROAEXAMPLE:task", "accountId": "112233445566",
        "arn": "arn:aws:sts::112233445566:assumed-role/task-role/abc123",
        "sessionContext": {"sessionIssuer": {"type": "Role", "arn": "arn:aws:iam::112233445566:role/task-role"}},
        "inScopeOf": {"issuerType": "AWS::ECS::Task", "credentialsIssuedTo": "arn:aws:ecs:eu-central-1:112233445566:task/c/abc123"},
    }  # fmt: skip
    principal = resolve_principal(Fields(identity))
    assert principal.in_scope_type == "AWS::ECS::Task"
    use = KeyUse(
        access_key_id="ASIAECSTASK000000001", acts_as=principal.key, role_arn=principal.issuer_arn,
        session_name=principal.session_name, session_created=None, ec2_role_delivery=None,
        workload=principal.in_scope_of, workload_type=principal.in_scope_type, acts_as_kind="Session",
    )  # fmt: skip
    hop = resolve_lineage([], [use])["ASIAECSTASK000000001"]
    assert (hop.method, hop.issuer) == ("workload", "ecs-tasks.amazonaws.com")
