"""graphtrail: AWS CloudTrail logs as a graph of identities, credentials, IPs and resources."""

__version__ = "0.1.0"
