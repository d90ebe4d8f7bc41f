"""The action table on data-access records: S3 buckets and objects, secrets, parameters and KMS keys."""

from __future__ import annotations

from tests.cloudtrail.actions_support import (
    INVICTUS,
    PANTHER,
    SIGHTINGS,
    STRATUS,
    effect_of,
    params,
    record,
    resolved,
)

# --- S3 data events ----------------------------------------------------------------------------------------


def test_object_read_points_at_the_bucket_with_the_key_sampled() -> None:
    _, effect = resolved(PANTHER, "GetObject", lambda r: params(r).get("key") == "confidential/file.pdf")
    assert (effect.target.kind, effect.target.resource_type) == ("Resource", "s3:bucket")
    assert effect.target.key == "arn:aws:s3:::sensitive-data-bucket"
    assert effect.facts["keys"] == ("confidential/file.pdf",)
    assert effect.facts["object_count"] == 1
    assert not effect.traversable


def test_object_write_counts_the_bytes_uploaded() -> None:
    _, effect = resolved(PANTHER, "PutObject", lambda r: params(r).get("bucketName") == "my-company-bucket")
    assert effect.target.key == "arn:aws:s3:::my-company-bucket"
    assert effect.target.account == "123456789012"  # the bucket's owner from resources[]
    assert effect.facts["bytes_in"] == 524288
    assert effect.facts["bytes_out"] == 0
    assert effect.facts["keys"] == ("reports/quarterly-report.pdf",)


def test_denied_object_read_keeps_its_target_and_is_not_traversable() -> None:
    event, effect = resolved(PANTHER, "GetObject", lambda r: r.get("errorCode") == "AccessDenied")
    assert event.failed
    assert effect.target.key == "arn:aws:s3:::example-bucket"
    assert effect.facts["keys"] == ("sensitive-file.txt",)


def test_copy_to_another_bucket_names_the_source_bucket() -> None:
    _, effect = resolved(PANTHER, "CopyObject", lambda r: params(r).get("bucketName", "").startswith("attacker-exfil"))
    assert effect.target.key == "arn:aws:s3:::attacker-exfil-1764604156"
    assert effect.facts["source_bucket"] == "ransomware-test-victim-1764604156"
    assert [node.key for node in effect.nodes] == ["arn:aws:s3:::ransomware-test-victim-1764604156"]


def test_copy_encrypted_with_a_key_of_another_account_is_flagged() -> None:
    _, effect = resolved(PANTHER, "CopyObject", lambda r: "999999999999" in str(params(r)))
    assert effect.facts["external_kms_key"] is True
    assert effect.facts["kms_key"] == "arn:aws:kms:us-east-1:999999999999:key/attacker-key-id"


def test_list_buckets_points_at_s3() -> None:
    _, effect = resolved(INVICTUS, "ListBuckets")
    assert (effect.target.kind, effect.target.key) == ("Service", "s3.amazonaws.com")


# --- S3 bucket configuration ---------------------------------------------------------------------------------


def test_bucket_policy_allowing_everyone_is_public() -> None:
    _, effect = resolved(
        PANTHER,
        "PutBucketPolicy",
        lambda r: "errorCode" not in r and '"AWS": "*"' in str(params(r)).replace("'", '"'),
    )
    assert effect.target.key == "arn:aws:s3:::example-bucket"
    assert effect.facts["public"] is True
    assert effect.facts["external"] is True


def test_bucket_policy_for_a_service_principal_is_not_public() -> None:
    _, effect = resolved(INVICTUS, "PutBucketPolicy")
    assert effect.facts == {"public": False, "wildcard_principal": False, "external": False}


def test_bucket_policy_granting_an_outside_account_names_it() -> None:
    _, effect = resolved(INVICTUS, "PutBucketPolicy", lambda r: "193672423079" in str(params(r)))
    assert effect.facts["shared_with"] == ("193672423079",)
    assert effect.facts["external"] is True
    assert [(node.kind, node.key) for node in effect.nodes] == [("Account", "193672423079")]


def test_private_canned_acl_is_not_public_and_public_read_is() -> None:
    raw = record(PANTHER, "PutBucketAcl", lambda r: "errorCode" not in r)
    assert effect_of(raw).facts["public"] is False
    raw["requestParameters"]["x-amz-acl"] = ["public-read"]
    assert effect_of(raw).facts["public"] is True


def test_acl_grant_to_all_users_is_public() -> None:
    raw = record(PANTHER, "PutBucketAcl", lambda r: "errorCode" not in r)
    raw["requestParameters"].pop("x-amz-acl")
    raw["requestParameters"]["AccessControlPolicy"] = {
        "AccessControlList": {
            "Grant": {"Grantee": {"URI": "http://acs.amazonaws.com/groups/global/AllUsers"}, "Permission": "READ"}
        }
    }
    assert effect_of(raw).facts["public"] is True


def test_replication_to_another_account_is_external() -> None:
    raw = record(PANTHER, "PutBucketReplication")
    raw["requestParameters"]["ReplicationConfiguration"] = {
        "Role": "arn:aws:iam::111111111111:role/replication",
        "Rule": [
            {"Status": "Enabled", "Destination": {"Bucket": "arn:aws:s3:::exfil-bucket", "Account": "222233334444"}}
        ],
    }
    effect = effect_of(raw)
    assert effect.target.key == "arn:aws:s3:::production-backup-bucket"
    assert effect.facts["destination_buckets"] == ("exfil-bucket",)
    assert effect.facts["shared_with"] == ("222233334444",)
    assert effect.facts["external"] is True
    assert {node.key for node in effect.nodes} == {"arn:aws:s3:::exfil-bucket", "222233334444"}


def test_one_day_lifecycle_on_the_trail_bucket_is_recorded() -> None:
    _, effect = resolved(INVICTUS, "PutBucketLifecycle")
    assert effect.target.key == "arn:aws:s3:::stratus-red-team-ctlr-bucket-zqfsvooxqj"
    assert effect.facts == {"expiration_days": (1,)}


def test_empty_logging_status_turns_access_logging_off() -> None:
    _, effect = resolved(PANTHER, "PutBucketLogging", lambda r: "errorCode" not in r)
    assert effect.facts["logging_disabled"] is True
    assert effect.facts["impairs_detection"] is True


def test_versioning_and_public_access_block_changes_are_read() -> None:
    _, versioning = resolved(PANTHER, "PutBucketVersioning", lambda r: r["eventSource"] == "s3.amazonaws.com")
    assert versioning.facts["versioning_status"] == "Enabled"
    _, block = resolved(PANTHER, "DeleteBucketPublicAccessBlock", lambda r: r["eventSource"] == "s3.amazonaws.com")
    assert block.facts["public_access_block_weakened"] is True


def test_bucket_policy_deletion_points_at_the_bucket() -> None:
    _, effect = resolved(INVICTUS, "DeleteBucketPolicy")
    assert effect.target.key == "arn:aws:s3:::stratus-red-team-bdbp-lhfzvgcamn"


# --- secrets, parameters, keys ------------------------------------------------------------------------------


def test_secret_value_read_points_at_the_secret() -> None:
    _, effect = resolved(SIGHTINGS / "aws.credential-access.secretsmanager-retrieve-secrets.json", "GetSecretValue")
    assert effect.target.resource_type == "secretsmanager:secret"
    assert effect.target.key.startswith("arn:aws:secretsmanager:us-east-1:677301038893:secret:stratus-red-team-secret-")
    assert not effect.traversable


def test_secret_read_by_name_builds_a_partial_secret_arn() -> None:
    raw = record(SIGHTINGS / "aws.credential-access.secretsmanager-retrieve-secrets.json", "GetSecretValue")
    raw["requestParameters"]["secretId"] = "prod/db"
    assert effect_of(raw).target.key == "arn:aws:secretsmanager:us-east-1:677301038893:secret:prod/db"


def test_bulk_secret_read_by_tag_keeps_the_filter() -> None:
    _, effect = resolved(
        STRATUS / "aws.credential-access.secretsmanager-batch-retrieve-secrets.json", "BatchGetSecretValue"
    )
    assert effect.target.key == "secretsmanager.amazonaws.com"
    assert effect.facts["filters"] == ("tag-key=StratusRedTeam",)


def test_securestring_parameters_read_with_decryption() -> None:
    _, effect = resolved(STRATUS / "aws.credential-access.ssm-retrieve-securestring-parameters.json", "GetParameters")
    assert effect.target.resource_type == "ssm:parameter"
    assert effect.facts["with_decryption"] is True
    names = effect.facts["parameter_names"]
    assert isinstance(names, tuple) and len(names) == 1 + len(effect.nodes)


def test_parameter_read_uses_the_logged_arn() -> None:
    _, effect = resolved(INVICTUS, "GetParameter")
    assert (
        effect.target.key == "arn:aws:ssm:us-east-1:123837392027:parameter/credentials/stratus-red-team/credentials-6"
    )


def test_kms_decrypt_points_at_the_key_and_names_what_it_protected() -> None:
    _, effect = resolved(INVICTUS, "Decrypt", lambda r: "SecretARN" in str(params(r)))
    assert effect.target.key == "arn:aws:kms:us-east-1:123837392027:key/dad21b23-9915-42bd-981b-2a9f3c8f20c8"
    assert effect.target.resource_type == "kms:key"
    context = effect.facts["context_arns"]
    assert isinstance(context, tuple) and context[0].startswith("arn:aws:secretsmanager:")
