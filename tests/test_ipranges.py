"""AwsIpRanges: look-ups against the shipped copy of AWS's ip-ranges.json, and rebuilding it."""

from __future__ import annotations

import gzip
import ipaddress
import json
from pathlib import Path
from typing import Any

import pytest

from graphtrail.errors import InputError
from graphtrail.ipranges import ENV_VAR, SHIPPED_PATH, AwsIpRanges, AwsRange, build_compact_ranges, update_ip_ranges


def _shipped_document() -> dict[str, Any]:
    return json.loads(gzip.decompress(SHIPPED_PATH.read_bytes()))


@pytest.fixture(scope="module")
def shipped() -> dict[str, Any]:
    return _shipped_document()


@pytest.fixture(scope="module")
def ranges() -> AwsIpRanges:
    return AwsIpRanges.load(SHIPPED_PATH)


def _sample_entries(entries: list[dict[str, Any]], key: str, service: str, count: int) -> list[dict[str, Any]]:
    """Entries of one service whose prefix no other entry overlaps, so the look-up answer is theirs alone."""
    networks = [ipaddress.ip_network(entry[key]) for entry in entries]
    found = []
    for index, (entry, network) in enumerate(zip(entries, networks, strict=True)):
        if entry["service"] != service:
            continue
        if any(other.overlaps(network) for other_index, other in enumerate(networks) if other_index != index):
            continue
        found.append(entry)
        if len(found) == count:
            return found
    raise AssertionError(f"no standalone {service} prefix in the shipped ranges")


def test_shipped_copy_loads_with_metadata(ranges: AwsIpRanges, shipped: dict[str, Any]) -> None:
    assert ranges.created == shipped["createDate"]
    assert ranges.sync_token == shipped["syncToken"]
    assert ranges.prefix_count > 10_000
    assert ranges.skipped == 0


def test_ec2_prefixes_from_the_file(ranges: AwsIpRanges, shipped: dict[str, Any]) -> None:
    for entry in _sample_entries(shipped["prefixes"], "ip_prefix", "EC2", 3):
        network = ipaddress.ip_network(entry["ip_prefix"])
        for address in (network.network_address, network.broadcast_address, network[network.num_addresses // 2]):
            found = ranges.lookup(str(address))
            assert found == AwsRange(entry["ip_prefix"], "EC2", entry["region"], ("EC2",))
        assert ranges.is_aws(str(network.network_address))


def test_ipv6_prefix_from_the_file(ranges: AwsIpRanges, shipped: dict[str, Any]) -> None:
    (entry,) = _sample_entries(shipped["ipv6_prefixes"], "ipv6_prefix", "EC2", 1)
    network = ipaddress.ip_network(entry["ipv6_prefix"])
    found = ranges.lookup(str(network.network_address + 1))
    assert found is not None
    assert (found.prefix, found.service, found.region) == (entry["ipv6_prefix"], "EC2", entry["region"])
    assert ranges.is_aws(str(network.broadcast_address))


@pytest.mark.parametrize("address", ["192.0.2.1", "198.51.100.7", "10.0.0.1", "127.0.0.1", "2001:db8::1", "::1"])
def test_documentation_and_private_addresses_are_not_aws(ranges: AwsIpRanges, address: str) -> None:
    assert ranges.lookup(address) is None
    assert not ranges.is_aws(address)


def test_google_dns_is_not_aws(ranges: AwsIpRanges, shipped: dict[str, Any]) -> None:
    google = ipaddress.ip_address("8.8.8.8")
    assert not any(google in ipaddress.ip_network(entry["ip_prefix"]) for entry in shipped["prefixes"])
    assert not ranges.is_aws("8.8.8.8")


def test_stolen_ec2_role_address_of_the_invictus_dataset_is_aws(ranges: AwsIpRanges) -> None:
    # In the Invictus-IR dataset the EC2 instance role's credentials are used from 3.225.16.109: an EC2 address
    # in us-east-1, the Region of the account. So "used from outside AWS" would not fire here; a detection
    # has to compare against the instance's own address instead.
    found = ranges.lookup("3.225.16.109")
    assert found is not None
    assert found.service == "EC2"
    assert found.region == "us-east-1"
    assert found.prefix == "3.224.0.0/12"


def test_most_specific_service_wins(ranges: AwsIpRanges, shipped: dict[str, Any]) -> None:
    # The shipped copy lists AMAZON only for prefixes that no other service claims.
    by_prefix: dict[str, set[str]] = {}
    for entry in shipped["prefixes"]:
        by_prefix.setdefault(entry["ip_prefix"], set()).add(entry["service"])
    assert all(services == {"AMAZON"} or "AMAZON" not in services for services in by_prefix.values())
    shared = next(prefix for prefix, services in by_prefix.items() if {"EC2", "S3"} <= services)
    found = ranges.lookup(str(ipaddress.ip_network(shared).network_address))
    assert found is not None
    assert found.service == "S3"  # EC2 is an umbrella; S3 says what the address is for
    assert found.services[0] == "S3"
    assert "EC2" in found.services


@pytest.mark.parametrize(
    "text",
    ["ec2.amazonaws.com", "AWS Internal", "", " 3.225.16.109", "3.225.16.109, 8.8.8.8", "075.050.255.67", "1.2.3"],
)
def test_anything_but_one_address_gives_none(ranges: AwsIpRanges, text: str) -> None:
    assert ranges.lookup(text) is None
    assert ranges.is_aws(text) is False


@pytest.mark.parametrize("value", [None, 3, b"3.225.16.109", ["3.225.16.109"]])
def test_non_strings_give_none(ranges: AwsIpRanges, value: object) -> None:
    assert ranges.lookup(value) is None  # type: ignore[arg-type]


def test_ipv4_mapped_ipv6_is_looked_up_as_ipv4(ranges: AwsIpRanges) -> None:
    assert ranges.lookup("::ffff:3.225.16.109") == ranges.lookup("3.225.16.109")


def _aws_document() -> dict[str, Any]:
    """A small ip-ranges.json in AWS's full layout, with nesting and an AMAZON duplicate."""

    def v4(prefix: str, service: str, region: str = "us-east-1") -> dict[str, str]:
        return {"ip_prefix": prefix, "region": region, "service": service, "network_border_group": region}

    return {
        "syncToken": "1700000000",
        "createDate": "2023-11-14-22-13-20",
        "prefixes": [
            v4("52.0.0.0/15", "AMAZON"),
            v4("52.0.0.0/15", "EC2"),
            v4("52.1.0.0/24", "ROUTE53_HEALTHCHECKS"),  # inside the EC2 block
            v4("52.1.8.0/24", "AMAZON", "GLOBAL"),  # inside the EC2 block, says less than it
            v4("54.240.0.0/18", "AMAZON"),
            v4("not-a-prefix", "EC2"),
            {"ip_prefix": "54.241.0.0/16"},  # no service: skipped, counted
        ],
        "ipv6_prefixes": [
            {"ipv6_prefix": "2600:1f00::/24", "region": "us-east-1", "service": "EC2", "network_border_group": "x"},
        ],
    }


def test_full_aws_layout_with_nesting(tmp_path: Path) -> None:
    path = tmp_path / "ip-ranges.json"
    path.write_text(json.dumps(_aws_document()))
    ranges = AwsIpRanges.load(path)
    assert ranges.created == "2023-11-14-22-13-20"
    assert ranges.skipped == 2
    assert ranges.lookup("52.0.0.1") == AwsRange("52.0.0.0/15", "EC2", "us-east-1", ("EC2",))
    assert ranges.lookup("52.1.0.9") == AwsRange(
        "52.1.0.0/24", "ROUTE53_HEALTHCHECKS", "us-east-1", ("ROUTE53_HEALTHCHECKS", "EC2")
    )
    assert ranges.lookup("52.1.1.0") == AwsRange("52.0.0.0/15", "EC2", "us-east-1", ("EC2",))
    assert ranges.lookup("52.1.8.1") == AwsRange("52.0.0.0/15", "EC2", "us-east-1", ("EC2",))
    assert ranges.lookup("52.1.255.255") == AwsRange("52.0.0.0/15", "EC2", "us-east-1", ("EC2",))
    assert ranges.lookup("52.2.0.0") is None
    assert ranges.lookup("54.240.63.255") == AwsRange("54.240.0.0/18", "AMAZON", "us-east-1", ("AMAZON",))
    assert ranges.lookup("2600:1f00::1") == AwsRange("2600:1f00::/24", "EC2", "us-east-1", ("EC2",))
    assert ranges.lookup("2600:1e00::1") is None


def test_update_writes_a_compact_copy_that_answers_the_same(tmp_path: Path) -> None:
    source = tmp_path / "ip-ranges.json"
    source.write_text(json.dumps(_aws_document()))
    dest = tmp_path / "out" / "ranges.json.gz"
    updated = update_ip_ranges(source, dest)
    original = AwsIpRanges.load(source)
    compact = json.loads(gzip.decompress(dest.read_bytes()))
    assert compact["createDate"] == "2023-11-14-22-13-20"
    assert compact["syncToken"] == "1700000000"
    assert {"ip_prefix": "52.0.0.0/15", "region": "us-east-1", "service": "AMAZON"} not in compact["prefixes"]
    assert all(set(entry) == {"ip_prefix", "region", "service"} for entry in compact["prefixes"])
    for address in ("52.0.0.1", "52.1.0.9", "52.1.8.1", "54.240.0.1", "2600:1f00::1", "8.8.8.8"):
        assert updated.lookup(address) == original.lookup(address)
    first = dest.read_bytes()
    update_ip_ranges(source, dest)
    assert dest.read_bytes() == first  # same input, same bytes


def test_shipped_copy_is_its_own_fixed_point(shipped: dict[str, Any]) -> None:
    # Rebuilding from the shipped copy changes nothing: it holds exactly what build_compact_ranges keeps.
    assert build_compact_ranges(shipped) == shipped


def test_plain_and_gzip_load_the_same(tmp_path: Path, ranges: AwsIpRanges, shipped: dict[str, Any]) -> None:
    plain = tmp_path / "plain.json"
    plain.write_text(json.dumps(shipped))
    reloaded = AwsIpRanges.load(plain)
    assert reloaded.prefix_count == ranges.prefix_count
    assert reloaded.lookup("3.225.16.109") == ranges.lookup("3.225.16.109")


def test_environment_variable_names_the_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "ip-ranges.json"
    path.write_text(json.dumps(_aws_document()))
    monkeypatch.setenv(ENV_VAR, str(path))
    assert AwsIpRanges.load().created == "2023-11-14-22-13-20"
    monkeypatch.delenv(ENV_VAR)
    assert AwsIpRanges.load().source == str(SHIPPED_PATH)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "cannot read"),
        (b"{not json", "cannot read"),
        (b"\x1f\x8b\x08\x00truncated", "cannot read"),
        (b'{"Records": []}', "not an AWS ip-ranges.json"),
        (b"[1, 2]", "not an AWS ip-ranges.json"),
    ],
)
def test_unreadable_files_raise_input_error(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    with pytest.raises(InputError, match=message):
        AwsIpRanges.load(path)


def test_missing_file_raises_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"missing\.json"):
        AwsIpRanges.load(tmp_path / "missing.json")


def test_update_refuses_a_file_without_prefixes(tmp_path: Path) -> None:
    source = tmp_path / "empty.json"
    source.write_text('{"createDate": "x", "prefixes": [], "ipv6_prefixes": []}')
    with pytest.raises(InputError, match="no usable prefixes"):
        update_ip_ranges(source, tmp_path / "out.json.gz")
    assert not (tmp_path / "out.json.gz").exists()
