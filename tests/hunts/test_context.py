from __future__ import annotations

from pathlib import Path

from graphtrail.case import Case
from graphtrail.hunts.config import HuntConfig
from graphtrail.hunts.context import HuntContext


def test_outside_is_neither_aws_nor_trusted_and_private_only_without_a_vpc_endpoint(invictus_case: Path) -> None:
    with Case(invictus_case) as case:
        context = HuntContext(case, HuntConfig(trusted_cidrs=("203.0.113.0/24",)))
        assert not context.is_outside("ec2.amazonaws.com")  # a service name is AWS acting
        assert not context.is_outside("3.80.0.10")  # AWS's published ranges
        assert not context.is_outside("203.0.113.7")  # a configured trusted network
        assert not context.is_outside(None)
        assert context.is_outside("185.220.101.234")
        assert context.is_outside("198.51.100.7")  # documentation ranges stand in for public addresses
        assert context.is_outside("192.168.10.20")  # private: outside unless the call came through an endpoint
        assert not context.is_outside("192.168.10.20", via_vpc_endpoint=True)
        # benjamin's two keys at one private address: S3 through a VPC endpoint, the other without one
        assert not context.is_outside_use("10.248.16.43", "AKIATFQZ7NSC8Q4X21BJ")
        assert context.is_outside_use("10.248.16.43", "AKIATFQR7NSCUXC3DDDP")
        assert context.is_outside_use("192.168.10.20", "AKIATFQR7NSC8Q4X20BJ")
