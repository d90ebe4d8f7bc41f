from __future__ import annotations

import random
import re

from graphtrail.arn import account_of_access_key
from graphtrail.simulate.ids import IdMint, iso_time, java_time


def test_simulated_keys_decode_to_their_account_like_real_ones() -> None:
    mint = IdMint(random.Random(5))
    for account in ("000000000001", "123456789012", "999999999999"):
        for temporary in (True, False):
            key = mint.access_key(account, temporary=temporary)
            assert re.fullmatch(r"(ASIA|AKIA)[A-Z2-7]{16}", key)
            assert key.startswith("ASIA" if temporary else "AKIA")
            assert account_of_access_key(key) == account


def test_unique_ids_have_aws_length_and_prefix() -> None:
    mint = IdMint(random.Random(5))
    role_id = mint.unique_id("AROA", "123456789012")
    assert len(role_id) == 21 and role_id.startswith("AROA")


def test_event_ids_are_version_4_uuids_and_repeat_for_a_seed() -> None:
    first = [IdMint(random.Random(9)).uuid() for _ in range(2)]
    assert first[0] == first[1]
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", first[0])


def test_times_are_written_as_cloudtrail_and_iam_write_them() -> None:
    assert iso_time(1_793_577_600 + 13 * 3600 + 5 * 60 + 9) == "2026-11-02T13:05:09Z"
    assert java_time(1_793_577_600 + 13 * 3600 + 5 * 60 + 9) == "Nov 2, 2026, 1:05:09 PM"
    assert java_time(1_793_577_600 + 5) == "Nov 2, 2026, 12:00:05 AM"
