"""ARNs and AWS identifiers: the one module that takes them apart and puts them together."""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from functools import lru_cache

_ACCOUNT_RE = re.compile(r"^\d{12}$")
_SEPARATOR = re.compile(r"[/:]")
_ACCESS_KEY_RE = re.compile(r"^(AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{12,124}$")


@dataclass(frozen=True, slots=True)
class Arn:
    partition: str
    service: str
    region: str
    account: str
    resource: str

    @property
    def resource_type(self) -> str:
        """The part of the resource before the first ``/`` or ``:`` (``user``, ``role``, ``assumed-role``…)."""
        return _SEPARATOR.split(self.resource, maxsplit=1)[0]

    @property
    def resource_name(self) -> str:
        """The last path element of the resource (a user or role name without its path)."""
        return _SEPARATOR.split(self.resource)[-1]

    def __str__(self) -> str:
        return f"arn:{self.partition}:{self.service}:{self.region}:{self.account}:{self.resource}"


def parse_arn(text: str | None) -> Arn | None:
    """Split an ARN; None for anything that is not one (logs hold all sorts of strings)."""
    if not text or not isinstance(text, str) or not text.startswith("arn:"):
        return None
    return _parse_arn(text)


@lru_cache(maxsize=1 << 16)
def _parse_arn(text: str) -> Arn | None:
    """The same ARNs recur in every event of a caller; Arn is immutable, so one parse serves them all."""
    parts = text.split(":", 5)
    if len(parts) != 6 or not parts[1] or not parts[2]:
        return None
    return Arn(parts[1], parts[2], parts[3], parts[4], parts[5])


def is_account_id(text: str | None) -> bool:
    return bool(text) and bool(_ACCOUNT_RE.match(text))  # type: ignore[arg-type]


def is_access_key_id(text: str | None) -> bool:
    return bool(text) and bool(_ACCESS_KEY_RE.match(text))  # type: ignore[arg-type]


def is_temporary_key(access_key_id: str | None) -> bool:
    return bool(access_key_id) and access_key_id.startswith("ASIA")  # type: ignore[union-attr]


def root_arn(partition: str, account: str) -> str:
    return f"arn:{partition}:iam::{account}:root"


def user_arn(partition: str, account: str, name: str, path: str = "/") -> str:
    return f"arn:{partition}:iam::{account}:user{_path(path)}{name}"


def role_arn(partition: str, account: str, name: str, path: str = "/") -> str:
    return f"arn:{partition}:iam::{account}:role{_path(path)}{name}"


def group_arn(partition: str, account: str, name: str, path: str = "/") -> str:
    return f"arn:{partition}:iam::{account}:group{_path(path)}{name}"


def policy_arn(partition: str, account: str, name: str) -> str:
    return f"arn:{partition}:iam::{account}:policy/{name}"


def assumed_role_arn(partition: str, account: str, role_name: str, session_name: str) -> str:
    return f"arn:{partition}:sts::{account}:assumed-role/{role_name}/{session_name}"


def federated_user_arn(partition: str, account: str, name: str) -> str:
    return f"arn:{partition}:sts::{account}:federated-user/{name}"


def s3_bucket_arn(bucket: str, partition: str = "aws") -> str:
    return f"arn:{partition}:s3:::{bucket}"


def _path(path: str | None) -> str:
    if not path or path == "/":
        return "/"
    return "/" + path.strip("/") + "/"


def role_name_of_session(session_arn: str | None) -> tuple[str, str] | None:
    """(role name, session name) of an ``assumed-role`` ARN."""
    arn = parse_arn(session_arn)
    if arn is None or arn.service != "sts" or not arn.resource.startswith("assumed-role/"):
        return None
    parts = arn.resource.split("/")
    if len(parts) < 3:
        return None
    return parts[1], "/".join(parts[2:])


def partition_of(arn_text: str | None, default: str = "aws") -> str:
    arn = parse_arn(arn_text)
    return arn.partition if arn else default


def account_of_access_key(access_key_id: str | None) -> str | None:
    """The account an AKIA/ASIA key belongs to, decoded offline from the key id.

    Keys issued since 2019 carry the account id in characters 5-12 (base32); older or sanitized keys
    decode to nonsense, so callers treat the answer as a hint, never as proof.
    """
    if not access_key_id or len(access_key_id) < 16 or not access_key_id[:4].isalpha():
        return None
    body = access_key_id[4:20]
    if len(body) != 16:
        return None
    try:
        decoded = base64.b32decode(body)
    except (ValueError, TypeError):
        return None
    value = int.from_bytes(decoded[:6], "big")
    account = (value & 0x7FFFFFFFFF80) >> 7
    return f"{account:012d}"


# Builders for the resources the action table points at. Each takes what CloudTrail logs (a bare id or name)
# and gives the ARN AWS documents for it, so the same resource seen by id in one event and by ARN in another
# becomes one node.


def build_arn(partition: str, service: str, region: str, account: str, resource: str) -> str:
    return f"arn:{partition}:{service}:{region}:{account}:{resource}"


def ec2_arn(partition: str, region: str, account: str, resource_type: str, resource_id: str) -> str:
    """``arn:aws:ec2:REGION:ACCOUNT:TYPE/ID``. Snapshots and images are written without an account."""
    if resource_type in ("snapshot", "image"):
        account = ""
    return build_arn(partition, "ec2", region, account, f"{resource_type}/{resource_id}")


def rds_arn(partition: str, region: str, account: str, resource_type: str, identifier: str) -> str:
    """``arn:aws:rds:REGION:ACCOUNT:TYPE:ID`` (``snapshot``, ``cluster-snapshot``, ``db``, ``cluster``)."""
    return build_arn(partition, "rds", region, account, f"{resource_type}:{identifier}")


def lambda_function_arn(partition: str, region: str, account: str, name: str) -> str:
    return build_arn(partition, "lambda", region, account, f"function:{name}")


def secret_arn(partition: str, region: str, account: str, name: str) -> str:
    """A partial secret ARN: the real one ends in a random six-character suffix that events by name lack."""
    return build_arn(partition, "secretsmanager", region, account, f"secret:{name}")


def ssm_parameter_arn(partition: str, region: str, account: str, name: str) -> str:
    """Parameter names may start with ``/`` (hierarchies); the ARN has exactly one ``/`` after ``parameter``."""
    return build_arn(partition, "ssm", region, account, f"parameter/{name.lstrip('/')}")


def kms_key_arn(partition: str, region: str, account: str, key_id: str) -> str:
    """A key id (uuid) or an alias name (``alias/…``) → the key or alias ARN."""
    resource = key_id if key_id.startswith("alias/") else f"key/{key_id}"
    return build_arn(partition, "kms", region, account, resource)


def trail_arn(partition: str, region: str, account: str, name: str) -> str:
    return build_arn(partition, "cloudtrail", region, account, f"trail/{name}")


def instance_profile_arn(partition: str, account: str, name: str, path: str = "/") -> str:
    return f"arn:{partition}:iam::{account}:instance-profile{_path(path)}{name}"
