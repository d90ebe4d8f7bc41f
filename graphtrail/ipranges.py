"""Is this address AWS's? A lookup table built from AWS's published ``ip-ranges.json``.

A workload credential (EC2 instance profile, Lambda, ECS task) used from an address outside AWS is one of the
strongest signs of theft, so every ``sourceIPAddress`` is checked against the ranges. Ingest does this millions
of times per run: the prefixes are flattened once into sorted, disjoint integer intervals searched with
``bisect``, and each instance memoizes its answers per address string.

The package ships a compact copy (``graphtrail/data/aws-ip-ranges.json.gz``, see the README beside it). Users
refresh it from a newer ``ip-ranges.json`` they downloaded with :func:`update_ip_ranges` and point
``GRAPHTRAIL_IP_RANGES`` at the result; this module never touches the network.

Example::

    >>> ranges = AwsIpRanges.load()
    >>> ranges.lookup("3.225.16.109")
    AwsRange(prefix='3.224.0.0/12', service='EC2', region='us-east-1', services=('EC2',))
"""

from __future__ import annotations

import gzip
import ipaddress
import logging
import os
import socket
import zlib
from bisect import bisect_right
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import orjson

from graphtrail.errors import InputError

__all__ = [
    "ENV_VAR",
    "SHIPPED_PATH",
    "AwsIpRanges",
    "AwsRange",
    "build_compact_ranges",
    "update_ip_ranges",
]

log = logging.getLogger(__name__)

ENV_VAR = "GRAPHTRAIL_IP_RANGES"
SHIPPED_PATH = Path(__file__).parent / "data" / "aws-ip-ranges.json.gz"

# ``AMAZON`` lists every AWS address; ``EC2`` and ``CLOUDFRONT`` are umbrellas that other services' prefixes
# are also published under (``IVS_REALTIME`` on EC2 addresses, ``CLOUDFRONT_ORIGIN_FACING`` within
# CLOUDFRONT). Any other service names what the address is used for more precisely.
_SPECIFICITY: dict[str, int] = {"AMAZON": 0, "EC2": 1, "CLOUDFRONT": 1}
_OTHER_SPECIFICITY = 2
_MEMO_SIZE = 1 << 16
_FAMILIES = (("prefixes", "ip_prefix", socket.AF_INET, 32), ("ipv6_prefixes", "ipv6_prefix", socket.AF_INET6, 128))


@dataclass(frozen=True, slots=True)
class AwsRange:
    """The published range an address falls in.

    ``service`` is the most specific service published for the address (``EC2`` rather than ``AMAZON``);
    ``prefix`` and ``region`` are those of the entry that names it. ``services`` lists every service
    published for a prefix containing the address, most specific first, ``AMAZON`` only when nothing else is.
    """

    prefix: str
    service: str
    region: str
    services: tuple[str, ...]


def _service_order(service: str) -> tuple[int, str]:
    """Sort key putting the most specific service first (ties by name, to stay stable)."""
    return (-_SPECIFICITY.get(service, _OTHER_SPECIFICITY), service)


# One published prefix: (first address, last address, prefix length, prefix text, members), where members are
# its (service, region) pairs, most specific service first, AMAZON only when nothing else is listed.
_Block = tuple[int, int, int, str, tuple[tuple[str, str], ...]]
# A flattened stretch's label, materialized into an AwsRange on first look-up: (prefix, service, region,
# chain), where chain links the members of every block containing the stretch, innermost first.
_Chain = tuple[tuple[tuple[str, str], ...], "_Chain | None"]
_Label = tuple[str, str, str, _Chain]


def _read_document(path: Path) -> dict[str, Any]:
    """Read an ip-ranges document, plain or gzip (detected by its magic bytes, not its name)."""
    try:
        data = path.read_bytes()
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        document = orjson.loads(data)
    except (OSError, EOFError, zlib.error, orjson.JSONDecodeError) as exc:
        raise InputError(f"{path}: cannot read AWS IP ranges ({exc}); expected AWS's ip-ranges.json") from exc
    if not isinstance(document, dict) or not isinstance(document.get("prefixes"), list):
        raise InputError(f"{path}: not an AWS ip-ranges.json (no 'prefixes' list)")
    return document


def _blocks(document: Mapping[str, Any], source: str) -> tuple[list[_Block], list[_Block], int]:
    """Group both families' entries by prefix, sorted outer blocks before the blocks they contain.

    Returns (IPv4 blocks, IPv6 blocks, number of malformed entries skipped). An ``AMAZON`` entry whose prefix
    is also published under another service is dropped: the other service says more.
    """
    skipped = 0
    parsed: list[list[_Block]] = []
    from_bytes, to_packed = int.from_bytes, socket.inet_pton
    for list_key, prefix_key, family, bits in _FAMILIES:
        items = document.get(list_key)
        by_prefix: dict[str, list[tuple[str, str]]] = {}
        for item in items if isinstance(items, list) else ():
            try:
                prefix, service, region = item[prefix_key], item["service"], item["region"]
            except (TypeError, KeyError):
                skipped += 1
                continue
            if type(prefix) is not str or type(service) is not str or type(region) is not str:
                skipped += 1
                continue
            members = by_prefix.get(prefix)
            if members is None:
                by_prefix[prefix] = [(service, region)]
            elif (service, region) not in members:
                members.append((service, region))
        blocks: list[_Block] = []
        for prefix, members in by_prefix.items():
            # Inlined prefix parsing: this loop is most of the load time. inet_pton is ~10x ipaddress.
            try:
                address, length = prefix.split("/")
                prefix_len = int(length)
                value = from_bytes(to_packed(family, address), "big")
            except (ValueError, OSError):
                prefix_len = -1
            if not 0 <= prefix_len <= bits or not length.isdigit():
                skipped += len(members)
                continue
            host_bits = bits - prefix_len
            start = value >> host_bits << host_bits
            if len(members) > 1:
                members = sorted((m for m in members if m[0] != "AMAZON"), key=_member_order) or members[:1]
            blocks.append((start, start | ((1 << host_bits) - 1), prefix_len, prefix, tuple(members)))
        blocks.sort(key=lambda block: (block[0], -block[1]))
        parsed.append(blocks)
    if skipped:
        log.warning("%s: skipped %d malformed AWS IP range entries", source, skipped)
    return parsed[0], parsed[1], skipped


def _member_order(member: tuple[str, str]) -> tuple[int, str, str]:
    return (-_SPECIFICITY.get(member[0], _OTHER_SPECIFICITY), member[0], member[1])


def _flatten(blocks: list[_Block]) -> tuple[list[int], list[int], list[_Label]]:
    """Turn sorted, nested CIDR blocks into sorted, disjoint intervals, each labelled with its best range.

    CIDR blocks never partly overlap: two are either disjoint or one contains the other. A sweep with a stack
    of open blocks therefore sees, for every stretch of addresses, exactly the blocks containing it. The label
    of a stretch is the most specific service among them (ties: the innermost, longest prefix). Labels stay
    plain tuples here; :func:`_materialize` turns the few that are looked up into :class:`AwsRange`.
    """
    starts: list[int] = []
    ends: list[int] = []
    labels: list[_Label] = []
    specificity = _SPECIFICITY.get
    other = _OTHER_SPECIFICITY
    # Each open block: (last address, specificity of its label's service, label).
    stack: list[tuple[int, int, _Label]] = []
    cursor = 0
    for start, end, _prefix_len, prefix, members in blocks:
        while stack and stack[-1][0] < start:
            closing_end, _, closing_label = stack.pop()
            if cursor <= closing_end:
                starts.append(cursor)
                ends.append(closing_end)
                labels.append(closing_label)
            cursor = closing_end + 1
        service, region = members[0]
        rank = specificity(service, other)
        if stack:
            _, outer_rank, outer = stack[-1]
            if cursor < start:
                starts.append(cursor)
                ends.append(start - 1)
                labels.append(outer)
            if outer_rank > rank:
                label = (outer[0], outer[1], outer[2], (members, outer[3]))
                rank = outer_rank
            else:
                label = (prefix, service, region, (members, outer[3]))
        else:
            label = (prefix, service, region, (members, None))
        stack.append((end, rank, label))
        cursor = start
    while stack:
        closing_end, _, closing_label = stack.pop()
        if cursor <= closing_end:
            starts.append(cursor)
            ends.append(closing_end)
            labels.append(closing_label)
        cursor = closing_end + 1
    return starts, ends, labels


def _materialize(label: _Label) -> AwsRange:
    """Build the AwsRange of a label: its service first, then every other service of the enclosing blocks."""
    prefix, service, region, chain = label
    services: set[str] = set()
    link: _Chain | None = chain
    while link is not None:
        services.update(member[0] for member in link[0])
        link = link[1]
    if len(services) > 1:
        services.discard("AMAZON")
    services.discard(service)
    return AwsRange(prefix, service, region, (service, *sorted(services, key=_service_order)))


class AwsIpRanges:
    """AWS's published ranges, ready for fast look-ups. Build with :meth:`load`."""

    def __init__(self, document: Mapping[str, Any], source: str = "<memory>") -> None:
        """Index an ip-ranges document (AWS's shape: ``prefixes``, ``ipv6_prefixes``, ``createDate``)."""
        v4_blocks, v6_blocks, skipped = _blocks(document, source)
        self.source = source
        self.created: str = str(document.get("createDate") or "")
        self.sync_token: str = str(document.get("syncToken") or "")
        self.prefix_count = len(v4_blocks) + len(v6_blocks)
        self.skipped = skipped
        self._v4 = _flatten(v4_blocks)
        self._v6 = _flatten(v6_blocks)
        # Per instance, so two instances (say, two snapshots) never share answers.
        self._memo: Callable[[str], AwsRange | None] = lru_cache(maxsize=_MEMO_SIZE)(self._lookup_uncached)

    @classmethod
    def load(cls, path: str | Path | None = None) -> AwsIpRanges:
        """Load ranges from ``path``, else from ``$GRAPHTRAIL_IP_RANGES``, else the copy shipped with graphtrail.

        The file may be AWS's full ``ip-ranges.json`` or a compact copy, plain or gzip-compressed.
        Raises :class:`~graphtrail.errors.InputError` if it cannot be read or is not an ip-ranges document.
        """
        if path is None:
            path = os.environ.get(ENV_VAR) or SHIPPED_PATH
        path = Path(path)
        return cls(_read_document(path), source=str(path))

    def lookup(self, address: str) -> AwsRange | None:
        """The AWS range holding ``address`` (one IPv4 or IPv6 address), or None.

        Anything that is not an address (``ec2.amazonaws.com``, ``AWS Internal``, ``""``) gives None; run raw
        ``sourceIPAddress`` values through :func:`graphtrail.ipaddr.parse_source_ip` first.
        """
        try:
            return self._memo(address)
        except TypeError:  # unhashable input
            return None

    def is_aws(self, address: str) -> bool:
        """True if ``address`` is in one of AWS's published ranges."""
        return self.lookup(address) is not None

    def __repr__(self) -> str:
        return f"AwsIpRanges(created={self.created!r}, prefixes={self.prefix_count}, source={self.source!r})"

    def _lookup_uncached(self, address: str) -> AwsRange | None:
        if not isinstance(address, str):
            return None
        try:
            parsed = ipaddress.ip_address(address)
        except ValueError:
            return None
        if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
            parsed = parsed.ipv4_mapped
        starts, ends, labels = self._v4 if parsed.version == 4 else self._v6
        value = int(parsed)
        index = bisect_right(starts, value) - 1
        if index >= 0 and value <= ends[index]:
            return _materialize(labels[index])
        return None


def build_compact_ranges(document: Mapping[str, Any]) -> dict[str, Any]:
    """Reduce AWS's ip-ranges document to what look-ups need, still in AWS's own shape.

    Keeps ``syncToken``, ``createDate`` and per prefix ``ip_prefix``/``ipv6_prefix``, ``region`` and
    ``service``; drops ``network_border_group`` and the ``AMAZON`` entries that repeat a prefix published
    under a more specific service. Sorted, so the same input always gives the same bytes.
    """
    v4_blocks, v6_blocks, _ = _blocks(document, "<document>")
    compact: dict[str, Any] = {"syncToken": document.get("syncToken"), "createDate": document.get("createDate")}
    for (list_key, prefix_key, _family, _bits), blocks in zip(_FAMILIES, (v4_blocks, v6_blocks), strict=True):
        compact[list_key] = [
            {prefix_key: block[3], "region": region, "service": service}
            for block in blocks
            for service, region in block[4]
        ]
    return compact


def update_ip_ranges(source_path: str | Path, dest_path: str | Path) -> AwsIpRanges:
    """Write a compact, gzip-compressed copy of a downloaded ``ip-ranges.json`` and return it loaded.

    Use it to refresh the ranges (AWS changes them several times a week), then set
    ``GRAPHTRAIL_IP_RANGES=dest_path``. The gzip header carries no timestamp, so rebuilding from the same
    source gives the same bytes. Raises :class:`~graphtrail.errors.InputError` if the source is not an
    ip-ranges document or holds no usable prefix.
    """
    source_path, dest_path = Path(source_path), Path(dest_path)
    compact = build_compact_ranges(_read_document(source_path))
    if not compact["prefixes"] and not compact["ipv6_prefixes"]:
        raise InputError(f"{source_path}: no usable prefixes; is this AWS's ip-ranges.json?")
    payload = orjson.dumps(compact, option=orjson.OPT_APPEND_NEWLINE)
    dest_path.parent.mkdir(parents=True, exist_ok=True)
    temporary = dest_path.with_name(dest_path.name + ".tmp")
    temporary.write_bytes(gzip.compress(payload, compresslevel=9, mtime=0))
    temporary.replace(dest_path)
    return AwsIpRanges.load(dest_path)
