"""The action table on infrastructure records: network exposure, sharing, launches, tampering, execution."""

from __future__ import annotations

from graphtrail.cloudtrail.actions.ec2 import ssh_key_fingerprint
from tests.cloudtrail.actions_support import (
    INVICTUS,
    PANTHER,
    STRATUS,
    effect_of,
    params,
    record,
    resolved,
)

# --- security groups ---------------------------------------------------------------------------------------


def test_flat_ingress_rule_to_the_world_on_ssh_opens_remote_access() -> None:
    """The legacy shape: cidrIp/fromPort at the top, ``ipPermissions: {}`` (and an anonymised ``…/0``)."""
    _, effect = resolved(
        STRATUS / "aws.exfiltration.ec2-security-group-open-port-22-ingress.json", "AuthorizeSecurityGroupIngress"
    )
    assert effect.target.key == "arn:aws:ec2:us-northeast-1r:032092706103:security-group/sg-003dc7f1f1c686164"
    assert effect.target.resource_type == "ec2:security-group"
    assert effect.facts["cidrs"] == ("208.236.235.254/0",)
    assert effect.facts["ports"] == ("22",)
    assert effect.facts["protocols"] == ("tcp",)
    assert effect.facts["open_to_world"] is True
    assert effect.facts["remote_access_open"] is True
    assert not effect.traversable


def test_items_shaped_ingress_rule_is_read_the_same_way() -> None:
    _, effect = resolved(
        PANTHER, "AuthorizeSecurityGroupIngress", lambda r: params(r).get("groupId") == "sg-0d921df5d84f7270a"
    )
    assert effect.facts["cidrs"] == ("0.0.0.0/0",)
    assert effect.facts["ports"] == ("22",)
    assert effect.facts["remote_access_open"] is True


def test_https_from_the_world_is_open_but_not_remote_access() -> None:
    _, effect = resolved(INVICTUS, "AuthorizeSecurityGroupIngress", lambda r: "443" in str(params(r)))
    assert effect.facts["open_to_world"] is True
    assert effect.facts["remote_access_open"] is False


def test_egress_to_everything_records_ipv4_and_ipv6() -> None:
    _, effect = resolved(INVICTUS, "AuthorizeSecurityGroupEgress")
    assert effect.facts["cidrs"] == ("0.0.0.0/0", "::/0")
    assert effect.facts["ports"] == ("all",)
    assert effect.facts["egress"] is True
    assert effect.facts["remote_access_open"] is False


def test_failed_ingress_change_keeps_its_facts_but_does_not_traverse() -> None:
    event, effect = resolved(
        PANTHER, "AuthorizeSecurityGroupIngress", lambda r: r.get("errorCode") == "UnauthorizedOperation"
    )
    assert event.failed
    assert effect.facts["cidrs"] == ("0.0.0.0/16",)
    assert effect.facts["open_to_world"] is False
    assert not effect.traversable


def test_new_security_group_points_at_the_group_id_from_the_response() -> None:
    _, effect = resolved(INVICTUS, "CreateSecurityGroup")
    assert effect.target.name == "sg-04cfb7a4712d75b00"
    assert effect.facts["group_name"] == "stratus-red-team-open-sg-sg"


def test_nacl_allow_from_the_world_is_open() -> None:
    _, effect = resolved(PANTHER, "CreateNetworkAclEntry", lambda r: "errorCode" not in r)
    assert effect.target.resource_type == "ec2:network-acl"
    assert effect.facts["open_to_world"] is True
    assert effect.facts["rule_action"] == "allow"


# --- sharing -----------------------------------------------------------------------------------------------


def test_snapshot_shared_with_outside_account_names_it() -> None:
    _, effect = resolved(STRATUS / "aws.exfiltration.ec2-share-ebs-snapshot.json", "ModifySnapshotAttribute")
    assert effect.target.key == "arn:aws:ec2:me-central-3r::snapshot/snap-041993b54a9b3af6f"
    assert effect.target.resource_type == "ec2:snapshot"
    assert effect.target.account == "756680937392"
    assert effect.facts == {"shared_with": ("098797384747",), "public": False, "external": True}
    assert [(node.kind, node.key) for node in effect.nodes] == [("Account", "098797384747")]
    assert not effect.traversable


def test_snapshot_unshared_is_not_external() -> None:
    _, effect = resolved(INVICTUS, "ModifySnapshotAttribute", lambda r: "remove" in str(params(r)))
    assert effect.facts["unshared_from"] == ("012345678912",)
    assert effect.facts["external"] is False
    assert not effect.nodes


def test_snapshot_shared_with_group_all_is_public() -> None:
    _, effect = resolved(
        PANTHER, "ModifySnapshotAttribute", lambda r: "'all'" in str(params(r)) and "errorCode" not in r
    )
    assert effect.facts["public"] is True


def test_image_shared_with_outside_account_names_it() -> None:
    _, effect = resolved(STRATUS / "aws.exfiltration.ec2-share-ami.json", "ModifyImageAttribute")
    assert effect.target.resource_type == "ec2:image"
    assert effect.target.key.endswith("::image/ami-de1fbCab6ccB03e6D")
    assert effect.facts["shared_with"] == ("846424999548",)


def test_db_snapshot_shared_with_outside_account_names_it() -> None:
    _, effect = resolved(STRATUS / "aws.exfiltration.rds-share-snapshot.json", "ModifyDBSnapshotAttribute")
    assert effect.target.resource_type == "rds:snapshot"
    assert effect.target.key.endswith(":171471557522:snapshot:exfiltration")
    assert effect.facts["shared_with"] == ("503161813013",)
    assert effect.facts["external"] is True


def test_db_snapshot_shared_with_all_is_public() -> None:
    raw = record(STRATUS / "aws.exfiltration.rds-share-snapshot.json", "ModifyDBSnapshotAttribute")
    raw["requestParameters"]["valuesToAdd"] = ["all"]
    effect = effect_of(raw)
    assert effect.facts["public"] is True
    assert "shared_with" not in effect.facts  # "all" is not an account


# --- launches and instance access ---------------------------------------------------------------------------


def test_instance_launched_with_a_profile_passes_its_role_and_is_traversable() -> None:
    _, effect = resolved(INVICTUS, "RunInstances", lambda r: "errorCode" not in r and "iamInstanceProfile" in params(r))
    assert effect.target.key == "arn:aws:ec2:us-east-1:123837392027:instance/i-0dbc91f429e48eeed"
    assert effect.target.resource_type == "ec2:instance"
    profile = "arn:aws:iam::123837392027:instance-profile/stratus-red-team-ec2-steal-credentials-instance"
    assert effect.facts["role_passed"] == profile
    assert effect.facts["instance_ids"] == ("i-0dbc91f429e48eeed",)
    assert effect.facts["instance_count"] == 1
    assert [node.resource_type for node in effect.nodes] == ["iam:instance-profile"]
    assert effect.traversable


def test_denied_gpu_launch_is_an_attempt_that_does_not_traverse() -> None:
    _, effect = resolved(STRATUS / "aws.execution.ec2-launch-unusual-instances.json", "RunInstances")
    assert effect.target.key == "ec2.amazonaws.com"  # the error names only ``instance/*``
    assert effect.facts["instance_type"] == "p2.xlarge"
    assert effect.facts["gpu_instance"] is True
    assert effect.facts["requested_count"] == 10
    assert not effect.traversable


def test_denied_user_data_read_is_still_flagged() -> None:
    event, effect = resolved(STRATUS / "aws.discovery.ec2-download-user-data.json", "DescribeInstanceAttribute")
    assert event.failed
    assert (effect.target.resource_type, effect.target.name) == ("ec2:instance", "i-95b86090")
    assert effect.facts["attribute"] == "userData"
    assert effect.facts["user_data"] is True


def test_password_data_request_points_at_the_instance() -> None:
    _, effect = resolved(STRATUS / "aws.credential-access.ec2-get-password-data.json", "GetPasswordData")
    assert effect.target.resource_type == "ec2:instance"
    assert effect.facts["instance_ids"] == (effect.target.name,)


def test_user_data_change_is_traversable_into_the_instance() -> None:
    _, effect = resolved(PANTHER, "ModifyInstanceAttribute", lambda r: "userData" in params(r) and "errorCode" not in r)
    assert effect.facts["user_data_changed"] is True
    assert effect.traversable


def test_ssh_key_pushed_with_instance_connect_is_traversable_and_only_fingerprinted() -> None:
    raw = record(STRATUS / "aws.lateral-movement.ec2-instance-connect.json", "SendSSHPublicKey")
    public_key = raw["requestParameters"]["sSHPublicKey"]
    effect = effect_of(raw)
    assert effect.target.resource_type == "ec2:instance"
    assert effect.facts["os_user"] == "ec2-user"
    assert effect.facts["ssh_key_type"] == "ssh-ed25519"
    assert effect.facts["ssh_key_fingerprint"] == ssh_key_fingerprint(public_key)[1]
    assert str(effect.facts["ssh_key_fingerprint"]).startswith("SHA256:")
    assert public_key.split()[1] not in repr(effect)
    assert effect.traversable


def test_serial_console_key_is_traversable_into_the_instance() -> None:
    _, effect = resolved(
        STRATUS / "aws.lateral-movement.ec2-serial-console-send-ssh-public-key.json", "SendSerialConsoleSSHPublicKey"
    )
    assert effect.target.resource_type == "ec2:instance"
    assert effect.facts["serial_port"] == "0"
    assert effect.traversable


def test_key_pair_creation_keeps_the_fingerprint_not_the_material() -> None:
    raw = record(INVICTUS.parent.parent / "awsdocs-examples" / "cloudtrail-user-guide_examples.jsonl", "CreateKeyPair")
    effect = effect_of(raw)
    assert effect.target.resource_type == "ec2:key-pair"
    assert effect.facts["key_fingerprint"] == "30:1d:46:d0:5b:ad:7e:1b:b6:70:62:8b:ff:38:b5:e9:ab:5d:b8:21"
    assert "keyMaterial" not in str(effect.facts)


# --- logging and detection tampering -------------------------------------------------------------------------


def test_stop_logging_points_at_the_trail() -> None:
    _, effect = resolved(STRATUS / "aws.defense-evasion.cloudtrail-stop.json", "StopLogging")
    assert effect.target.resource_type == "cloudtrail:trail"
    assert effect.target.key.startswith("arn:aws:cloudtrail:")
    assert effect.facts == {"impairs_detection": True}


def test_delete_trail_points_at_the_trail() -> None:
    _, effect = resolved(STRATUS / "aws.defense-evasion.cloudtrail-delete.json", "DeleteTrail")
    assert effect.target.resource_type == "cloudtrail:trail"


def test_event_selectors_without_management_events_blind_the_trail() -> None:
    _, effect = resolved(STRATUS / "aws.defense-evasion.cloudtrail-event-selectors.json", "PutEventSelectors")
    assert effect.target.resource_type == "cloudtrail:trail"
    assert effect.facts["management_events_disabled"] is True
    assert effect.facts["read_write_narrowed"] is True
    assert effect.facts["impairs_detection"] is True
    selectors = effect.facts["event_selectors"]
    assert isinstance(selectors, tuple) and selectors[0].startswith("ReadOnly; management=false")


def test_event_selectors_logging_everything_do_not_impair() -> None:
    _, effect = resolved(INVICTUS, "PutEventSelectors", lambda r: '"All"' in str(params(r)).replace("'", '"'))
    assert effect.facts["impairs_detection"] is False


def test_trail_narrowed_to_one_region_impairs_detection() -> None:
    _, effect = resolved(PANTHER, "UpdateTrail", lambda r: "isMultiRegionTrail" in params(r))
    assert effect.facts["changes"] == ("isMultiRegionTrail",)
    assert effect.facts["impairs_detection"] is True


def test_flow_log_deletion_points_at_the_flow_log() -> None:
    _, effect = resolved(STRATUS / "aws.defense-evasion.vpc-remove-flow-logs.json", "DeleteFlowLogs")
    assert effect.target.resource_type == "ec2:flow-log"
    assert effect.facts["impairs_detection"] is True


def test_dns_query_log_deletion_points_at_the_config() -> None:
    _, effect = resolved(STRATUS / "aws.defense-evasion.dns-delete-logs.json", "DeleteResolverQueryLogConfig")
    assert effect.target.resource_type == "route53resolver:query-log-config"
    assert effect.target.key.endswith(":resolver-query-log-config/rqlc-4473f20ca554c07")


def test_denied_leave_organization_is_an_attempt_on_the_organization() -> None:
    event, effect = resolved(STRATUS / "aws.defense-evasion.organizations-leave.json", "LeaveOrganization")
    assert event.failed
    assert effect.target.resource_type == "organizations:organization"
    assert effect.facts["impairs_detection"] is True
    assert not effect.traversable


def test_config_delivery_channel_deletion_impairs_detection() -> None:
    _, effect = resolved(PANTHER, "DeleteDeliveryChannel", lambda r: "errorCode" not in r)
    assert effect.target.resource_type == "config:delivery-channel"
    assert effect.facts["impairs_detection"] is True


def test_guardduty_detector_disabled_impairs_detection() -> None:
    raw = record(STRATUS / "aws.defense-evasion.cloudtrail-stop.json", "StopLogging")
    raw.update(eventSource="guardduty.amazonaws.com", eventName="UpdateDetector")
    raw["requestParameters"] = {"detectorId": "12abc34d567e8fa901bc2d34e56789f0", "enable": False}
    effect = effect_of(raw)
    assert effect.target.resource_type == "guardduty:detector"
    assert effect.target.key.endswith(":detector/12abc34d567e8fa901bc2d34e56789f0")
    assert effect.facts["impairs_detection"] is True


# --- execution ---------------------------------------------------------------------------------------------


def test_lambda_created_with_a_role_is_traversable_and_keeps_its_versioned_name() -> None:
    event, effect = resolved(INVICTUS, "CreateFunction20150331", lambda r: "errorCode" not in r)
    assert event.name == "CreateFunction20150331"
    assert effect.target.key == "arn:aws:lambda:us-east-1:123837392027:function:stratus-red-team-backdoor-f-func"
    assert effect.target.resource_type == "lambda:function"
    assert effect.facts["role_passed"] == "arn:aws:iam::123837392027:role/stratus-red-team-backdoor-f-lambda"
    assert [(node.kind, node.key) for node in effect.nodes] == [("Role", effect.facts["role_passed"])]
    assert effect.traversable


def test_failed_lambda_creation_does_not_traverse() -> None:
    _, effect = resolved(INVICTUS, "CreateFunction20150331", lambda r: "errorCode" in r)
    assert effect.facts["role_passed"]
    assert not effect.traversable


def test_lambda_layer_added_is_traversable() -> None:
    _, effect = resolved(
        STRATUS / "aws.persistence.lambda-layer-extension.json", "UpdateFunctionConfiguration20150331v2"
    )
    assert effect.target.resource_type == "lambda:function"
    layers = effect.facts["layers"]
    assert isinstance(layers, tuple) and layers[0].endswith(
        ":layer:stratus-red-team-lambda-layer-my-lambda-extension:1"
    )
    assert effect.traversable


def test_lambda_code_overwrite_points_at_the_unqualified_function() -> None:
    _, effect = resolved(STRATUS / "aws.persistence.lambda-overwrite-code.json", "UpdateFunctionCode20150331v2")
    assert effect.target.key.endswith(":function:stratus-red-team-olc-func-vayhjqkdav")
    assert effect.facts["code_sha256"]
    assert effect.traversable


def test_lambda_permission_for_anyone_is_public() -> None:
    _, effect = resolved(STRATUS / "aws.persistence.lambda-backdoor-function.json", "AddPermission20150331v2")
    assert effect.target.name == "stratus-red-team-backdoor-f-func"
    assert effect.facts["principal"] == "*"
    assert effect.facts["public"] is True
    assert not effect.traversable


def test_run_command_points_at_the_instances_and_is_traversable() -> None:
    _, effect = resolved(STRATUS / "aws.execution.ssm-send-command.json", "SendCommand")
    ids = effect.facts["instance_ids"]
    assert isinstance(ids, tuple) and len(ids) == 3
    assert effect.target.name == ids[0]
    assert [node.name for node in effect.nodes] == list(ids[1:])
    assert effect.facts["document_name"] == "AWS-RunShellScript"
    assert effect.traversable


def test_failed_run_command_does_not_traverse() -> None:
    _, effect = resolved(INVICTUS, "SendCommand", lambda r: "errorCode" in r)
    assert effect.target.resource_type == "ec2:instance"
    assert not effect.traversable


def test_session_manager_session_is_traversable_into_the_instance() -> None:
    _, effect = resolved(STRATUS / "aws.execution.ssm-start-session.json", "StartSession")
    assert effect.target.resource_type == "ec2:instance"
    assert effect.facts["session_id"]
    assert "token" not in str(effect.facts).lower()
    assert effect.traversable


def test_roles_anywhere_profile_names_the_roles_it_vends() -> None:
    _, effect = resolved(STRATUS / "aws.persistence.rolesanywhere-create-trust-anchor.json", "CreateProfile")
    assert effect.target.resource_type == "rolesanywhere:profile"
    assert effect.facts["role_arns"] == ("arn:aws:iam::791182566784:role/stratus-red-team-trust-anchor-role",)
