"""The AWS API calls the simulation makes, each written with the request and response shapes CloudTrail logs
for it (see the reference, section 4). Baseline and scenarios both call these, so an attack's
`CreateAccessKey` looks exactly like an administrator's.

`fail=True` writes the call as denied (errorCode, errorMessage, no response).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any
from urllib.parse import quote

from graphtrail.arn import role_arn, s3_bucket_arn, user_arn
from graphtrail.simulate.callers import Caller
from graphtrail.simulate.ids import java_time
from graphtrail.simulate.org import HOME_REGION, TRAIL_NAME
from graphtrail.simulate.records import Timed, denied, resource
from graphtrail.simulate.world import World

IAM = "iam.amazonaws.com"
S3 = "s3.amazonaws.com"
EC2 = "ec2.amazonaws.com"
KMS = "kms.amazonaws.com"
STS = "sts.amazonaws.com"
CLOUDTRAIL = "cloudtrail.amazonaws.com"
GUARDDUTY = "guardduty.amazonaws.com"
SECRETS = "secretsmanager.amazonaws.com"

ADMIN_POLICY = "arn:aws:iam::aws:policy/AdministratorAccess"


def call(
    world: World,
    t: int,
    caller: Caller,
    source: str,
    name: str,
    *,
    region: str = HOME_REGION,
    params: Any = None,
    response: Any = None,
    fail: bool = False,
    action: str | None = None,
    on: str = "*",
    error: tuple[str, str] | None = None,
    **extra: Any,
) -> Timed:
    """Any call; a denied one names the IAM action (`action`, default service:Name) and resource (`on`).

    `error` (errorCode, errorMessage) writes a refusal other than access denied.
    """
    if fail:
        error = denied(caller, action or f"{source.split('.')[0]}:{name}", on, source)
    return world.records.call(
        t, caller, source, name, region=region, params=params, response=response, error=error, **extra
    )


# --- STS -------------------------------------------------------------------------------------------------


def get_caller_identity(world: World, t: int, caller: Caller, region: str = HOME_REGION) -> Timed:
    return call(world, t, caller, STS, "GetCallerIdentity", region=region)


# --- IAM (global: logged in us-east-1) ---------------------------------------------------------------------


def create_user(world: World, t: int, caller: Caller, name: str, *, fail: bool = False) -> tuple[Timed, str]:
    account = caller.account
    arn = user_arn("aws", account, name)
    user_id = world.mint.unique_id("AIDA", account)
    response = {"user": {"path": "/", "userName": name, "userId": user_id, "arn": arn, "createDate": java_time(t)}}
    return call(
        world, t, caller, IAM, "CreateUser", params={"userName": name}, response=response, fail=fail, on=arn
    ), arn


def attach_user_policy(world: World, t: int, caller: Caller, user: str, policy: str = ADMIN_POLICY) -> Timed:
    return call(world, t, caller, IAM, "AttachUserPolicy", params={"userName": user, "policyArn": policy})


def create_access_key(world: World, t: int, caller: Caller, user: str | None = None) -> tuple[Timed, str]:
    """CreateAccessKey for `user`, or with no userName for the caller itself (the only way root gets a key).

    Returns the call and the new AKIA key (its secret is never logged); IAM keys live in the caller's account.
    """
    key = world.mint.access_key(caller.account, temporary=False)
    named = {"userName": user} if user is not None else {}
    response = {"accessKey": {"accessKeyId": key, "status": "Active", **named, "createDate": java_time(t)}}
    return call(world, t, caller, IAM, "CreateAccessKey", params=named or None, response=response), key


def list_access_keys(world: World, t: int, caller: Caller, user: str) -> Timed:
    return call(world, t, caller, IAM, "ListAccessKeys", params={"userName": user})


def update_access_key(world: World, t: int, caller: Caller, user: str, key: str, status: str) -> Timed:
    return call(
        world, t, caller, IAM, "UpdateAccessKey", params={"userName": user, "accessKeyId": key, "status": status}
    )


def delete_access_key(world: World, t: int, caller: Caller, user: str, key: str) -> Timed:
    return call(world, t, caller, IAM, "DeleteAccessKey", params={"userName": user, "accessKeyId": key})


def create_login_profile(world: World, t: int, caller: Caller, user: str, *, exists: bool = False) -> Timed:
    """CreateLoginProfile; `exists=True`: the user already has a password, so IAM refuses (EntityAlreadyExists)."""
    error = ("EntityAlreadyExistsException", f"Login Profile for User {user} already exists.") if exists else None
    response = {"loginProfile": {"userName": user, "createDate": java_time(t), "passwordResetRequired": False}}
    return call(
        world,
        t,
        caller,
        IAM,
        "CreateLoginProfile",
        params={"userName": user, "passwordResetRequired": False},
        response=response,
        error=error,
    )


def update_login_profile(world: World, t: int, caller: Caller, user: str) -> Timed:
    return call(world, t, caller, IAM, "UpdateLoginProfile", params={"userName": user})


def get_role(world: World, t: int, caller: Caller, role: str) -> Timed:
    return call(world, t, caller, IAM, "GetRole", params={"roleName": role})


def create_role(
    world: World, t: int, caller: Caller, name: str, path: str, principal: dict[str, Any]
) -> tuple[Timed, str]:
    """CreateRole trusting `principal`; returns the call and the new role's ARN.

    The trust policy goes in as a JSON string and comes back URL-encoded, as IAM logs it.
    """
    document = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}],
        },
        separators=(",", ":"),
    )
    arn = role_arn("aws", caller.account, name, path)
    role_id = world.mint.unique_id("AROA", caller.account)
    response = {
        "role": {
            "path": path,
            "roleName": name,
            "roleId": role_id,
            "arn": arn,
            "createDate": java_time(t),
            "assumeRolePolicyDocument": quote(document, safe=""),
        }
    }
    params = {"path": path, "roleName": name, "assumeRolePolicyDocument": document, "maxSessionDuration": 3600}
    return call(world, t, caller, IAM, "CreateRole", params=params, response=response), arn


def put_role_policy(world: World, t: int, caller: Caller, role: str, name: str, policy: dict[str, Any]) -> Timed:
    """PutRolePolicy: the inline policy `name` on `role`, its document a compact JSON string."""
    params = {"roleName": role, "policyName": name, "policyDocument": json.dumps(policy, separators=(",", ":"))}
    return call(world, t, caller, IAM, "PutRolePolicy", params=params)


def update_assume_role_policy(world: World, t: int, caller: Caller, role: str, trusted: list[str]) -> Timed:
    """UpdateAssumeRolePolicy letting `trusted` principal ARNs assume `role` (the document is a JSON string)."""
    document = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": trusted}, "Action": "sts:AssumeRole"}],
    }
    return call(
        world,
        t,
        caller,
        IAM,
        "UpdateAssumeRolePolicy",
        params={"roleName": role, "policyDocument": json.dumps(document)},
    )


# --- S3 ------------------------------------------------------------------------------------------------------


def list_buckets(world: World, t: int, caller: Caller, *, fail: bool = False) -> Timed:
    return call(
        world,
        t,
        caller,
        S3,
        "ListBuckets",
        params={"Host": "s3.amazonaws.com"},
        fail=fail,
        action="s3:ListAllMyBuckets",
    )


def object_call(
    world: World,
    t: int,
    caller: Caller,
    name: str,
    bucket: str,
    key: str,
    owner: str,
    *,
    region: str = HOME_REGION,
    size: int = 0,
    fail: bool = False,
) -> Timed:
    """GetObject / PutObject / DeleteObject: data events, with bytes and the object and bucket as resources."""
    additional = _data_event_details(
        world,
        bytes_in=size if name == "PutObject" else 0,
        bytes_out=size if name == "GetObject" else 0,
    )
    resources = [
        resource(f"{s3_bucket_arn(bucket)}/{key}", "AWS::S3::Object"),
        resource(s3_bucket_arn(bucket), "AWS::S3::Bucket", owner),
    ]
    params = {"bucketName": bucket, "Host": f"{bucket}.s3.{region}.amazonaws.com", "key": key}
    return call(
        world,
        t,
        caller,
        S3,
        name,
        region=region,
        params=params,
        fail=fail,
        action=f"s3:{name}",
        on=f"{s3_bucket_arn(bucket)}/{key}",
        additional=additional,
        resources=resources,
        data_event=True,
        recipient=owner,
    )


def list_objects(
    world: World,
    t: int,
    caller: Caller,
    bucket: str,
    owner: str,
    prefix: str = "",
    *,
    delimiter: bool = True,
    region: str = HOME_REGION,
    listing_bytes: tuple[int, int] = (900, 60_000),
    fail: bool = False,
) -> Timed:
    """ListObjectsV2 as CloudTrail logs it: a data event named ListObjects with `list-type` 2.

    `delimiter=False` lists every key under the prefix (as `aws s3 sync` does) instead of one level;
    the response's size is drawn from `listing_bytes`.
    """
    params = {
        "list-type": "2",
        "bucketName": bucket,
        "encoding-type": "url",
        "prefix": prefix,
        "Host": f"{bucket}.s3.{region}.amazonaws.com",
    }
    if delimiter:
        params["delimiter"] = "/"
    additional = _data_event_details(world, bytes_in=0, bytes_out=world.rng.randint(*listing_bytes))
    bucket_arn = s3_bucket_arn(bucket)
    return call(
        world,
        t,
        caller,
        S3,
        "ListObjects",
        region=region,
        params=params,
        fail=fail,
        action="s3:ListBucket",
        on=bucket_arn,
        additional=additional,
        resources=[resource(bucket_arn, "AWS::S3::Bucket", owner)],
        data_event=True,
        recipient=owner,
    )


def _data_event_details(world: World, *, bytes_in: int, bytes_out: int) -> dict[str, Any]:
    """The additionalEventData S3 writes on every data event: signing, TLS, bytes moved and its x-amz-id-2."""
    return {
        "SignatureVersion": "SigV4",
        "CipherSuite": "TLS_AES_128_GCM_SHA256",
        "bytesTransferredIn": bytes_in,
        "bytesTransferredOut": bytes_out,
        "AuthenticationMethod": "AuthHeader",
        "x-amz-id-2": world.mint.base64(76),
    }


def put_bucket_policy(world: World, t: int, caller: Caller, bucket: str, principal: Any, owner: str) -> Timed:
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "Share",
                "Effect": "Allow",
                "Principal": principal,
                "Action": "s3:GetObject",
                "Resource": f"{s3_bucket_arn(bucket)}/*",
            }
        ],
    }
    return _bucket_configuration(
        world, t, caller, "PutBucketPolicy", bucket, owner, {"bucketPolicy": policy, "policy": ""}
    )


def put_bucket_replication(
    world: World,
    t: int,
    caller: Caller,
    bucket: str,
    owner: str,
    destination_bucket: str,
    destination_account: str,
    role_arn: str,
) -> Timed:
    configuration = {
        "xmlns": "http://s3.amazonaws.com/doc/2006-03-01/",
        "Role": role_arn,
        "Rule": {
            "ID": "replicate-all",
            "Status": "Enabled",
            "Priority": 1,
            "Filter": {"Prefix": ""},
            "DeleteMarkerReplication": {"Status": "Disabled"},
            "Destination": {
                "Bucket": s3_bucket_arn(destination_bucket),
                "Account": destination_account,
                "AccessControlTranslation": {"Owner": "Destination"},
            },
        },
    }
    return _bucket_configuration(
        world,
        t,
        caller,
        "PutBucketReplication",
        bucket,
        owner,
        {"replication": "", "ReplicationConfiguration": configuration},
    )


def _bucket_configuration(
    world: World, t: int, caller: Caller, name: str, bucket: str, owner: str, params: dict[str, Any]
) -> Timed:
    """A bucket configuration call (management event): the bucket's global virtual host, the bucket as resource."""
    return call(
        world,
        t,
        caller,
        S3,
        name,
        params={"bucketName": bucket, "Host": f"{bucket}.s3.amazonaws.com", **params},
        resources=[resource(s3_bucket_arn(bucket), "AWS::S3::Bucket", owner)],
    )


# --- EC2 -----------------------------------------------------------------------------------------------------


def authorize_ingress(
    world: World, t: int, caller: Caller, group_id: str, cidr: str, port: int, *, region: str = HOME_REGION
) -> Timed:
    """AuthorizeSecurityGroupIngress in the current (ipPermissions.items) request shape."""
    params = {
        "groupId": group_id,
        "ipPermissions": {
            "items": [
                {
                    "ipProtocol": "tcp",
                    "fromPort": port,
                    "toPort": port,
                    "groups": {},
                    "ipRanges": {"items": [{"cidrIp": cidr}]},
                    "ipv6Ranges": {},
                    "prefixListIds": {},
                }
            ]
        },
    }
    response = {
        "requestId": world.mint.uuid(),
        "_return": True,
        "securityGroupRuleSet": {
            "items": [
                {
                    "groupOwnerId": caller.account,
                    "groupId": group_id,
                    "securityGroupRuleId": "sgr-" + world.mint.hex(17),
                    "isEgress": False,
                    "ipProtocol": "tcp",
                    "fromPort": port,
                    "toPort": port,
                    "cidrIpv4": cidr,
                }
            ]
        },
    }
    return call(world, t, caller, EC2, "AuthorizeSecurityGroupIngress", region=region, params=params, response=response)


def share_snapshot(
    world: World, t: int, caller: Caller, snapshot_id: str, with_account: str, *, region: str = HOME_REGION
) -> Timed:
    params = {
        "snapshotId": snapshot_id,
        "attributeType": "CREATE_VOLUME_PERMISSION",
        "createVolumePermission": {"add": {"items": [{"userId": with_account}]}},
    }
    return call(
        world,
        t,
        caller,
        EC2,
        "ModifySnapshotAttribute",
        region=region,
        params=params,
        response={"requestId": world.mint.uuid(), "_return": True},
    )


def describe(
    world: World, t: int, caller: Caller, name: str, *, region: str = HOME_REGION, fail: bool = False, source: str = EC2
) -> Timed:
    """A read-only Describe*/List*/Get* with no parameters (recon and everyday console browsing)."""
    params = {"maxResults": 1000} if source == EC2 and name.startswith("Describe") else None
    return call(world, t, caller, source, name, region=region, params=params, fail=fail)


# --- logging and detection ------------------------------------------------------------------------------------


def trail_arn_of(account: str) -> str:
    return f"arn:aws:cloudtrail:{HOME_REGION}:{account}:trail/{TRAIL_NAME}"


def describe_trails(world: World, t: int, caller: Caller) -> Timed:
    """DescribeTrails as the CLI sends it: every trail, shadow trails (other Regions' copies) included."""
    return call(
        world, t, caller, CLOUDTRAIL, "DescribeTrails", params={"trailNameList": [], "includeShadowTrails": True}
    )


def stop_logging(world: World, t: int, caller: Caller, trail: str) -> Timed:
    return call(world, t, caller, CLOUDTRAIL, "StopLogging", params={"name": trail})


def delete_trail(world: World, t: int, caller: Caller, trail: str) -> Timed:
    return call(world, t, caller, CLOUDTRAIL, "DeleteTrail", params={"name": trail})


def put_event_selectors(world: World, t: int, caller: Caller, trail: str, *, data_events: bool) -> Timed:
    """PutEventSelectors; `data_events=False` drops S3 data events from the trail."""
    resources = [{"type": "AWS::S3::Object", "values": ["arn:aws:s3"]}] if data_events else []
    selectors = [
        {
            "readWriteType": "All",
            "includeManagementEvents": True,
            "dataResources": resources,
            "excludeManagementEventSources": [],
        }
    ]
    return call(
        world,
        t,
        caller,
        CLOUDTRAIL,
        "PutEventSelectors",
        params={"trailName": trail, "eventSelectors": selectors},
        response={"trailARN": trail, "eventSelectors": selectors},
    )


def delete_detector(world: World, t: int, caller: Caller, detector_id: str, *, region: str = HOME_REGION) -> Timed:
    return call(world, t, caller, GUARDDUTY, "DeleteDetector", region=region, params={"detectorId": detector_id})


# --- KMS and secrets ---------------------------------------------------------------------------------------------


def kms_call(
    world: World,
    t: int,
    caller: Caller,
    name: str,
    key_arn: str,
    account: str,
    *,
    region: str = HOME_REGION,
    context: dict[str, str] | None = None,
) -> Timed:
    params: dict[str, Any] = {"keyId": key_arn, "encryptionAlgorithm": "SYMMETRIC_DEFAULT"}
    if name == "GenerateDataKey":
        params = {"keySpec": "AES_256", "keyId": key_arn}
    if context:
        params["encryptionContext"] = context
    world.mint.hex(64)  # drawn and dropped, as when each call had an id of its own: a seed makes the same org
    return call(
        world,
        t,
        caller,
        KMS,
        name,
        region=region,
        params=params,
        recipient=account,
        additional={"keyMaterialId": key_material_id(key_arn)},
        resources=[resource(key_arn, "AWS::KMS::Key", account)],
    )


def key_material_id(key_arn: str) -> str:
    """The id KMS logs for the key material a call used: one per key until the key rotates (the simulated
    days never reach a rotation), 64 hex digits."""
    return hashlib.sha256(key_arn.encode()).hexdigest()


def get_secret_value(
    world: World, t: int, caller: Caller, secret_arn: str, *, region: str = HOME_REGION, fail: bool = False
) -> Timed:
    return call(
        world,
        t,
        caller,
        SECRETS,
        "GetSecretValue",
        region=region,
        params={"secretId": secret_arn},
        fail=fail,
        on=secret_arn,
    )
