"""parse_source_ip: CloudTrail's sourceIPAddress as addresses or a service name, never an exception."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from graphtrail.ipaddr import normalize_ip, parse_source_ip


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("3.225.16.109", (["3.225.16.109"], None)),
        ("192.168.10.20", (["192.168.10.20"], None)),
        # two addresses in one field, comma- or space-separated, duplicates folded
        ("203.0.113.5, 10.0.0.1", (["203.0.113.5", "10.0.0.1"], None)),
        ("203.0.113.5 10.0.0.1", (["203.0.113.5", "10.0.0.1"], None)),
        ("203.0.113.5,203.0.113.5", (["203.0.113.5"], None)),
        # IPv6: compressed to canonical text, with or without brackets and port
        ("2001:0db8:0000:0000:0000:0000:0000:0001", (["2001:db8::1"], None)),
        ("[2001:db8::1]:443", (["2001:db8::1"], None)),
        ("[2001:db8::1]", (["2001:db8::1"], None)),
        ("2001:db8::1, 198.51.100.7", (["2001:db8::1", "198.51.100.7"], None)),
        # IPv4 with a port; IPv4-mapped IPv6 is the same host as the IPv4 address
        ("198.51.100.7:51234", (["198.51.100.7"], None)),
        ("::ffff:198.51.100.7", (["198.51.100.7"], None)),
        # Stratus Red Team logs (anonymised) write octets with leading zeros; read as decimal
        ("075.050.255.67", (["75.50.255.67"], None)),
        ("253.252.51.07", (["253.252.51.7"], None)),
        ("035.249.253.232", (["35.249.253.232"], None)),
        # AWS services calling on the caller's behalf
        ("cloudformation.amazonaws.com", ([], "cloudformation.amazonaws.com")),
        ("secretsmanager.amazonaws.com", ([], "secretsmanager.amazonaws.com")),
        ("iam.global.api.aws", ([], "iam.global.api.aws")),
        ("AWS Internal", ([], "AWS Internal")),
        ("AWS Internal/3", ([], "AWS Internal/3")),
        ("  AWS Internal  ", ([], "AWS Internal")),
    ],
)
def test_parse_source_ip(text: str, expected: tuple[list[str], str | None]) -> None:
    assert parse_source_ip(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        None,
        "redacted",
        "sourceIPAddress1",
        "<Attacker source IP>",
        "<script>alert(1)</script>",
        "999.1.1.1",
        "256.0.0.1",
        "1.2.3",
        "1.2.3.4.5",
        "0x7f.0.0.1",
        "1.2.3.0004",
        "2001:db8::g",
        "[1.2.3.4",
    ],
)
def test_placeholders_and_garbage_are_neither_address_nor_service(text: str | None) -> None:
    assert parse_source_ip(text) == ([], None)


def test_addresses_mixed_with_garbage_keep_the_addresses() -> None:
    assert parse_source_ip("203.0.113.5, unknown") == (["203.0.113.5"], None)


def test_leading_zero_octets_are_decimal_not_octal() -> None:
    # inet_aton would read 010 as 8; CloudTrail anonymisers mean ten.
    assert normalize_ip("010.000.000.001") == "10.0.0.1"


@given(st.text(max_size=80))
def test_never_raises(text: str) -> None:
    addresses, service = parse_source_ip(text)
    assert isinstance(addresses, list)
    assert service is None or isinstance(service, str)
    assert not (addresses and service)


@given(st.ip_addresses())
def test_every_valid_address_round_trips(address: object) -> None:
    addresses, service = parse_source_ip(str(address))
    assert service is None
    assert len(addresses) == 1


def test_memoized_answers_are_fresh_lists() -> None:
    first, _ = parse_source_ip("203.0.113.5, 10.0.0.1")
    first.append("mutated by a caller")
    assert parse_source_ip("203.0.113.5, 10.0.0.1") == (["203.0.113.5", "10.0.0.1"], None)
