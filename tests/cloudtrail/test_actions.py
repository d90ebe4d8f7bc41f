"""The action table as a whole: coverage, look-up, the generic fallback, and invariants over every real record.

Family-specific behaviour is in test_actions_identity.py, test_actions_data.py and test_actions_infra.py.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import graphtrail.cloudtrail.actions as actions
from graphtrail.cloudtrail.actions import (
    TRAVERSABLE_ACTIONS,
    ActionEffect,
    ActionRule,
    action_rules,
    base_event_name,
    covered_event_names,
    find_rule,
    resolve_action,
)
from graphtrail.cloudtrail.actions.s3 import MAX_KEYS_PER_EVENT
from graphtrail.cloudtrail.event import Event
from graphtrail.cloudtrail.normalize import normalize_record
from graphtrail.errors import RecordRejected
from graphtrail.schema import NODE_KINDS, STRUCTURAL_EDGE_TYPES
from tests.cloudtrail.actions_support import (
    AWSDOCS,
    DATA,
    INVICTUS,
    PANTHER,
    STRATUS,
    Record,
    effect_of,
    params,
    record,
    records,
    resolved,
)

# Section 4 of docs/cloudtrail-reference.md, plus the STS/sign-in calls of section 3.
SECTION_4_EVENTS: tuple[str, ...] = (
    # IAM
    "CreateUser",
    "CreateAccessKey",
    "UpdateAccessKey",
    "DeleteAccessKey",
    "ListAccessKeys",
    "CreateLoginProfile",
    "UpdateLoginProfile",
    "AttachUserPolicy",
    "AttachRolePolicy",
    "AttachGroupPolicy",
    "PutUserPolicy",
    "PutRolePolicy",
    "PutGroupPolicy",
    "AddUserToGroup",
    "CreateRole",
    "UpdateAssumeRolePolicy",
    "CreatePolicyVersion",
    "SetDefaultPolicyVersion",
    "CreateInstanceProfile",
    "AddRoleToInstanceProfile",
    "CreateServiceLinkedRole",
    "DeleteUser",
    "DeleteRole",
    # STS and sign-in
    "AssumeRole",
    "AssumeRoleWithSAML",
    "AssumeRoleWithWebIdentity",
    "GetSessionToken",
    "GetFederationToken",
    "GetCallerIdentity",
    "ConsoleLogin",
    "GetSigninToken",
    "CheckMfa",
    # S3
    "ListBuckets",
    "PutBucketPolicy",
    "DeleteBucketPolicy",
    "PutBucketAcl",
    "PutBucketReplication",
    "PutBucketLogging",
    "PutBucketVersioning",
    "PutBucketLifecycle",
    "PutBucketAccelerateConfiguration",
    "GetObject",
    "PutObject",
    "CopyObject",
    "DeleteObject",
    "DeleteObjects",
    "ListObjects",
    "ListObjectsV2",
    "ListBucket",
    # EC2 and RDS
    "AuthorizeSecurityGroupIngress",
    "AuthorizeSecurityGroupEgress",
    "RevokeSecurityGroupIngress",
    "RevokeSecurityGroupEgress",
    "CreateSecurityGroup",
    "ModifySecurityGroupRules",
    "ModifySnapshotAttribute",
    "ModifyImageAttribute",
    "ModifyDBSnapshotAttribute",
    "ModifyDBClusterSnapshotAttribute",
    "RunInstances",
    "GetPasswordData",
    "DescribeInstanceAttribute",
    "CreateKeyPair",
    "ImportKeyPair",
    "SendSSHPublicKey",
    "EnableSerialConsoleAccess",
    "SendSerialConsoleSSHPublicKey",
    "DeleteFlowLogs",
    "CreateInstanceExportTask",
    "CreateSnapshot",
    "CopySnapshot",
    "AssociateIamInstanceProfile",
    # logging and detection
    "StopLogging",
    "DeleteTrail",
    "UpdateTrail",
    "PutEventSelectors",
    "DeleteDetector",
    "UpdateDetector",
    "CreateIPSet",
    "UpdateIPSet",
    "DisableSecurityHub",
    "StopConfigurationRecorder",
    "DeleteConfigurationRecorder",
    "DeleteDeliveryChannel",
    "DeleteResolverQueryLogConfig",
    "LeaveOrganization",
    # secrets and execution
    "GetSecretValue",
    "BatchGetSecretValue",
    "ListSecrets",
    "GetParameter",
    "GetParameters",
    "Decrypt",
    "Encrypt",
    "GenerateDataKey",
    "CreateFunction",
    "UpdateFunctionCode",
    "UpdateFunctionConfiguration",
    "AddPermission",
    "DeleteFunction",
    "SendCommand",
    "StartSession",
    "CreateTask",
    "CreateDevEndpoint",
    "CreateStack",
)


# --- the table -----------------------------------------------------------------------------------------------


def test_every_section_4_event_has_a_rule() -> None:
    missing = sorted(set(SECTION_4_EVENTS) - set(covered_event_names()))
    assert missing == []


def test_control_transferring_actions_are_traversable_and_reads_are_not() -> None:
    must = {
        "CreateAccessKey", "CreateLoginProfile", "UpdateLoginProfile", "AssumeRole", "AssumeRoleWithSAML",
        "AssumeRoleWithWebIdentity", "GetSessionToken", "GetFederationToken", "UpdateAssumeRolePolicy",
        "AttachUserPolicy", "AttachRolePolicy", "AttachGroupPolicy", "PutUserPolicy", "PutRolePolicy",
        "PutGroupPolicy", "CreatePolicyVersion", "AddUserToGroup", "CreateUser", "GetSigninToken", "SendCommand",
        "StartSession", "SendSSHPublicKey", "RunInstances", "CreateFunction", "CreateDevEndpoint", "CreateStack",
    }  # fmt: skip
    never = {"GetObject", "ListBuckets", "ConsoleLogin", "GetSecretValue", "StopLogging", "GetCallerIdentity"}
    assert must <= TRAVERSABLE_ACTIONS
    assert not never & TRAVERSABLE_ACTIONS


def test_rules_are_declared_once_with_a_family() -> None:
    declared = action_rules()
    assert len({(rule.source, rule.name) for rule in declared}) == len(declared)
    assert all(rule.family and rule.source.endswith(".amazonaws.com") for rule in declared)
    assert {rule.name for rule in declared} == set(covered_event_names())


@pytest.mark.parametrize(
    ("name", "base"),
    [
        ("CreateFunction20150331", "CreateFunction"),
        ("UpdateFunctionCode20150331v2", "UpdateFunctionCode"),
        ("CreateDistribution2020_05_31", "CreateDistribution"),
        ("AssumeRole", "AssumeRole"),
        ("ListObjectsV2", "ListObjectsV2"),
    ],
)
def test_version_suffixes_are_stripped_for_the_lookup_only(name: str, base: str) -> None:
    assert base_event_name(name) == base


def test_rule_is_chosen_by_service_and_name() -> None:
    """SNS has an AddPermission too; it must not be read as Lambda's."""
    raw = record(STRATUS / "aws.persistence.lambda-backdoor-function.json", "AddPermission20150331v2")
    raw.update(eventSource="sns.amazonaws.com", eventName="AddPermission")
    event = normalize_record(raw)
    assert find_rule(event) is None
    assert resolve_action(event, strict=True).target.key == "sns.amazonaws.com"


def test_record_without_event_source_is_matched_by_a_unique_name() -> None:
    raw = record(STRATUS / "aws.defense-evasion.cloudtrail-stop.json", "StopLogging")
    raw.pop("eventSource")
    assert find_rule(normalize_record(raw)) is not None


# --- the generic fallback ------------------------------------------------------------------------------------


def test_unlisted_call_points_at_its_first_resource() -> None:
    _, effect = resolved(AWSDOCS / "cloudtrail-user-guide_examples.jsonl", "RotateKey")
    assert (effect.target.kind, effect.target.resource_type) == ("Resource", "kms:key")
    assert effect.target.key == "arn:aws:kms:us-east-2:123456789012:key/7944f0ec-EXAMPLE"
    assert effect.facts == {}
    assert not effect.traversable


def test_unlisted_bucket_call_points_at_the_bucket() -> None:
    _, effect = resolved(INVICTUS, "GetBucketPolicyStatus")
    assert effect.target.resource_type == "s3:bucket"


def test_unlisted_object_call_points_at_the_bucket_not_the_object() -> None:
    raw = record(PANTHER, "GetObject", lambda r: params(r).get("key") == "confidential/file.pdf")
    raw["eventName"] = "GetObjectTagging"
    effect = effect_of(raw)
    assert (effect.target.key, effect.target.resource_type) == ("arn:aws:s3:::sensitive-data-bucket", "s3:bucket")


def test_unlisted_call_without_resources_points_at_its_service() -> None:
    _, effect = resolved(INVICTUS, "DescribeInstances")
    assert (effect.target.kind, effect.target.key) == ("Service", "ec2.amazonaws.com")


def test_unlisted_call_with_a_broken_resource_arn_points_at_its_service() -> None:
    _, effect = resolved(PANTHER, "DescribeTable", lambda r: "arn::::table/table" in json.dumps(r))
    assert (effect.target.kind, effect.target.key) == ("Service", "dynamodb.amazonaws.com")


def test_a_failing_rule_falls_back_to_the_generic_target_and_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(ctx: object) -> ActionEffect:
        raise RuntimeError("bug")

    key = ("s3.amazonaws.com", "PutBucketPolicy")
    monkeypatch.setitem(actions._TABLE, key, ActionRule(*key, handler=broken))
    event = normalize_record(record(INVICTUS, "PutBucketPolicy"))
    effect = resolve_action(event)
    assert effect.target.resource_type == "s3:bucket"
    assert effect.facts == {"rule_error": True}
    with pytest.raises(RuntimeError):
        resolve_action(event, strict=True)


# --- invariants over every real record ------------------------------------------------------------------------


def _normalized(raw: Record) -> Event | None:
    try:
        return normalize_record(copy.deepcopy(raw))
    except RecordRejected:
        return None


ALL_RECORDS = records(DATA)


def _assert_well_formed(effect: ActionEffect, event: Event) -> None:
    for node in (effect.target, *effect.nodes):
        assert node.kind in NODE_KINDS, node
        assert node.key
        assert (node.resource_type is not None) == (node.kind == "Resource"), node
        json.dumps(dict(node.props))
    for name, value in effect.facts.items():
        assert isinstance(name, str)
        assert isinstance(value, (bool, int, str, tuple)), (name, value)
        if isinstance(value, tuple):
            assert value and all(isinstance(item, (str, int)) and not isinstance(item, bool) for item in value)
    json.dumps(dict(effect.facts))
    assert all(edge.type in STRUCTURAL_EDGE_TYPES for edge in effect.structural)
    if event.failed:
        assert not effect.traversable


def test_every_real_record_resolves_to_a_well_formed_effect() -> None:
    resolved_count = 0
    for raw in ALL_RECORDS:
        event = _normalized(raw)
        if event is None:
            continue
        _assert_well_formed(resolve_action(event, strict=True), event)
        resolved_count += 1
    assert resolved_count > 3000


def test_no_session_token_or_key_material_reaches_an_effect() -> None:
    secrets = []
    for raw in ALL_RECORDS:
        text = json.dumps(raw)
        for marker in ("sessionToken", "keyMaterial", "sSHPublicKey"):
            if marker in text:
                secrets.append(raw)
                break
    assert len(secrets) > 50
    for raw in secrets:
        values = _secret_values(raw)
        event = _normalized(raw)
        if event is None:
            continue
        rendered = repr(resolve_action(event, strict=True))
        assert not [value for value in values if value in rendered]


def _secret_values(value: Any) -> list[str]:
    found: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if key in ("sessionToken", "keyMaterial") and isinstance(item, str) and len(item) > 20:
                found.append(item)
            elif key == "sSHPublicKey" and isinstance(item, str) and len(item.split()) > 1:
                found.append(item.split()[1])
            else:
                found.extend(_secret_values(item))
    elif isinstance(value, list):
        for item in value:
            found.extend(_secret_values(item))
    return found


def test_object_keys_are_sampled_and_counted() -> None:
    raw = record(PANTHER, "DeleteObjects")
    raw["requestParameters"]["delete"] = {"Object": [{"Key": f"backup/{n:04d}-" + "x" * 1000} for n in range(100)]}
    effect = effect_of(raw)
    assert effect.facts["object_count"] == 100
    keys = effect.facts["keys"]
    assert isinstance(keys, tuple) and len(keys) == MAX_KEYS_PER_EVENT
    assert all(len(key) <= 512 for key in keys)


# --- odd shapes never raise ----------------------------------------------------------------------------------

ODD_VALUES: list[Any] = [
    "HIDDEN_DUE_TO_SECURITY_REASONS",
    ["a", {"b": 1}],
    [[]],
    {"items": "not-a-list"},
    {"items": [None, 3, "x"]},
    12,
    -1.5,
    True,
    None,
    {"add": {"items": [{"userId": ["nested"]}]}},
]


def _covered_samples() -> list[Record]:
    """One real record per covered (source, eventName) found in tests/data."""
    samples: dict[tuple[str, str], Record] = {}
    for raw in ALL_RECORDS:
        event = _normalized(raw)
        if event is None or event.is_insight:
            continue
        rule = find_rule(event)
        if rule is not None:
            samples.setdefault((rule.source, rule.name), raw)
    return list(samples.values())


COVERED_SAMPLES = _covered_samples()


def test_the_covered_samples_span_most_of_the_table() -> None:
    assert len(COVERED_SAMPLES) > 100


@pytest.mark.parametrize("raw", COVERED_SAMPLES, ids=lambda raw: f"{raw.get('eventSource')}:{raw.get('eventName')}")
def test_odd_parameter_shapes_never_raise(raw: Record) -> None:
    for block in ("requestParameters", "responseElements", "additionalEventData"):
        for whole in ("a string where an object belongs", ["a", "list"], 7):
            mutated = copy.deepcopy(raw)
            mutated[block] = whole
            _resolve_mutated(mutated)
        original = raw.get(block)
        if not isinstance(original, dict):
            continue
        for name in original:
            for odd in ODD_VALUES:
                mutated = copy.deepcopy(raw)
                mutated[block][name] = odd
                _resolve_mutated(mutated)


def _resolve_mutated(mutated: Record) -> None:
    event = _normalized(mutated)
    if event is not None:
        _assert_well_formed(resolve_action(event, strict=True), event)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    paths = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            paths += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value[:5]):
            paths += _paths(item, (*prefix, index))
    return paths


def _replace(raw: Record, path: tuple[Any, ...], value: Any) -> None:
    """Put `value` at `path`, if an earlier replacement has not removed the path already."""
    parent: Any = raw
    for step in path[:-1]:
        try:
            parent = parent[step]
        except (KeyError, IndexError, TypeError):
            return
    last = path[-1]
    if isinstance(parent, dict) or (isinstance(parent, list) and isinstance(last, int) and last < len(parent)):
        parent[last] = value


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_mutated_real_records_never_raise(data: st.DataObject) -> None:
    raw = copy.deepcopy(data.draw(st.sampled_from(COVERED_SAMPLES)))
    blocks = {name: raw.get(name) for name in ("requestParameters", "responseElements", "additionalEventData")}
    paths = [(name, *path) for name, block in blocks.items() if isinstance(block, dict) for path in _paths(block)]
    for _ in range(data.draw(st.integers(min_value=1, max_value=3))):
        if not paths:
            break
        _replace(raw, data.draw(st.sampled_from(paths)), data.draw(JSON_VALUES))
    _resolve_mutated(raw)
