"""AWS failures as one-line `GraphtrailError`s that say which permission or setting is missing.

botocore's exceptions carry the error code and the request; the user needs the IAM action and the ARN it
was refused on, not a traceback. Nothing here ever formats credentials.
"""

from __future__ import annotations

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ProfileNotFound,
)

from graphtrail.errors import GraphtrailError

THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "SlowDown",
        "RequestThrottled",
        "ProvisionedThroughputExceededException",
        "503",
    }
)
DENIED_CODES = frozenset({"AccessDenied", "AccessDeniedException", "403", "Forbidden", "AllAccessDisabled"})
_KMS_CODES = frozenset({"KMS.AccessDeniedException", "KMS.DisabledException", "KMS.NotFoundException"})

NO_CREDENTIALS_HELP = (
    "no AWS credentials found: use --profile NAME, set AWS_PROFILE or the AWS_ACCESS_KEY_ID/"
    "AWS_SECRET_ACCESS_KEY environment variables, or run where an instance or container role is available"
)


class AwsError(GraphtrailError):
    """A call to AWS failed in a way the user must fix (credentials, permissions, a name, a Region)."""


class AwsAccessDenied(AwsError):
    """AWS refused a call: `action` is the IAM action (or kms:Decrypt) that is missing on `resource`."""

    def __init__(self, action: str, resource: str, detail: str = "") -> None:
        message = f"access denied: this needs {action} on {resource}"
        super().__init__(message + (f" ({detail})" if detail else ""))
        self.action = action
        self.resource = resource


class AwsKmsDenied(AwsAccessDenied):
    """The object is encrypted with a KMS key the caller may not use."""


def error_code(exc: ClientError) -> str:
    return str(
        exc.response.get("Error", {}).get("Code") or exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "")
    )


def error_message(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Message") or "")


def is_throttling(exc: BaseException) -> bool:
    return isinstance(exc, ClientError) and error_code(exc) in THROTTLING_CODES


def is_kms_denial(exc: ClientError) -> bool:
    """S3 answers AccessDenied (or a KMS.* code) when the caller may read the object but not decrypt it."""
    code = error_code(exc)
    message = error_message(exc).lower()
    return code in _KMS_CODES or (code in DENIED_CODES and ("kms" in message or "ciphertext" in message))


def explain(exc: BaseException, action: str, resource: str) -> AwsError:
    """Turn a botocore failure of `action` on `resource` into the error the user should see."""
    if isinstance(exc, AwsError):
        return exc
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return AwsError(NO_CREDENTIALS_HELP)
    if isinstance(exc, ProfileNotFound):
        return AwsError(f"{exc}; the profiles are in ~/.aws/config and ~/.aws/credentials")
    if isinstance(exc, NoRegionError):
        return AwsError("no AWS Region configured: set AWS_REGION or a region in your profile")
    if isinstance(exc, EndpointConnectionError):
        return AwsError(f"cannot reach AWS at {exc.kwargs.get('endpoint_url', 'its endpoint')}: {exc}")
    if isinstance(exc, ClientError):
        code = error_code(exc)
        if is_kms_denial(exc):
            return AwsKmsDenied(
                "kms:Decrypt",
                f"the KMS key that encrypts {resource}",
                "the object is SSE-KMS encrypted; allow kms:Decrypt in your policy and in the key policy",
            )
        if code in DENIED_CODES:
            return AwsAccessDenied(action, resource)
        if code in ("ExpiredToken", "ExpiredTokenException", "InvalidAccessKeyId", "SignatureDoesNotMatch",
                    "InvalidClientTokenId", "UnrecognizedClientException"):  # fmt: skip
            return AwsError(f"AWS rejected the credentials ({code}) calling {action}: refresh or replace them")
        if code == "NoSuchBucket":
            return AwsError(f"no such bucket: {resource}")
        if code in THROTTLING_CODES:
            return AwsError(f"AWS kept throttling {action} on {resource} after every retry ({code}); try again later")
        return AwsError(f"{action} on {resource} failed: {code}: {error_message(exc) or 'no message'}")
    if isinstance(exc, BotoCoreError):
        return AwsError(f"{action} on {resource} failed: {exc}")
    return AwsError(f"{action} on {resource} failed: {type(exc).__name__}: {exc}")
