"""Read CloudTrail straight from AWS: a trail's S3 bucket (single-account or organization) and LookupEvents.

Only these modules import boto3, and only when a command asks for AWS (the rest of graphtrail runs offline).
`session` builds credentials, `s3` walks and downloads a trail's objects, `lookup` pages LookupEvents, and
`ingest` hands what they read to `graphtrail.ingest` and keeps the S3 bookkeeping in the case.
"""
