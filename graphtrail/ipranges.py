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
from bisect import bisect_right
from collections.abc import Callable, Iterable, Mapping
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


def _specificity(service: str) -> int:
    return _SPECIFICITY.get(service, _OTHER_SPECIFICITY)


def _service_order(service: str) -> tuple[int, str]:
    """Sort key putting the most specific service first (ties by name, to stay stable)."""
    return (-_specificity(service), service)


@dataclass(frozen=True, slots=True)
class _Entry:
    """One (prefix, service) pair of the source file, as an inclusive integer interval."""

    start: int
    end: int
    prefix_len: int
    prefix: str
    service: str
    region: str


def _parse_prefix(text: str, family: int, bits: int) -> tuple[int, int, int] | None:
    """``"3.224.0.0/12"`` → (first, last, 12); None if malformed. ``socket.inet_pton`` is ~10x ipaddress."""
    address, sep, length = text.partition("/")
    if not sep or not length.isdigit():
        return None
    prefix_len = int(length)
    if prefix_len > bits:
        return None
    try:
        value = int.from_bytes(socket.inet_pton(family, address), "big")
    except (OSError, ValueError):
        return None
    host_bits = bits - prefix_len
    start = (value >> host_bits) << host_bits
    return start, start | ((1 << host_bits) - 1), prefix_len


def _read_document(path: Path) -> dict[str, Any]:
    """Read an ip-ranges document, plain or gzip (detected by its magic bytes, not its name)."""
    try:
        data = path.read_bytes()
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        document = orjson.loads(data)
    except (OSError, EOFError, gzip.BadGzipFile, orjson.JSONDecodeError) as exc:
        raise InputError(f"{path}: cannot read AWS IP ranges ({exc}); expected AWS's ip-ranges.json") from exc
    if not isinstance(document, dict) or not isinstance(document.get("prefixes"), list):
        raise InputError(f"{path}: not an AWS ip-ranges.json (no 'prefixes' list)")
    return document


def _entries(document: Mapping[str, Any], source: str) -> tuple[list[_Entry], list[_Entry], int]:
    """Parse both families, dropping an ``AMAZON`` entry whose prefix is also published under another service.

    Returns (IPv4 entries, IPv6 entries, number of malformed entries skipped).
    """
    skipped = 0
    parsed: list[list[_Entry]] = []
    for list_key, prefix_key, family, bits in _FAMILIES:
        items = document.get(list_key) or []
        by_prefix: dict[str, list[_Entry]] = {}
        for item in items if isinstance(items, list) else ():
            try:
                prefix, service, region = item[prefix_key], item["service"], item["region"]
            except (TypeError, KeyError):
                skipped += 1
                continue
            interval = _parse_prefix(prefix, family, bits) if isinstance(prefix, str) else None
            if interval is None or not isinstance(service, str) or not isinstance(region, str):
                skipped += 1
                continue
            start, end, prefix_len = interval
            by_prefix.setdefault(prefix, []).append(_Entry(start, end, prefix_len, prefix, service, region))
        family_entries: list[_Entry] = []
        for same_prefix in by_prefix.values():
            specific = [entry for entry in same_prefix if entry.service != "AMAZON"]
            family_entries.extend(specific or same_prefix[:1])
        parsed.append(family_entries)
    if skipped:
        log.warning("%s: skipped %d malformed AWS IP range entries", source, skipped)
    return parsed[0], parsed[1], skipped


def _flatten(entries: Iterable[_Entry]) -> tuple[list[int], list[int], list[AwsRange]]:
    """Turn nested CIDR blocks into sorted, disjoint intervals, each labelled with its best range.

    CIDR blocks never partly overlap: two are either disjoint or one contains the other. A sweep with a stack
    of open blocks therefore sees, for every stretch of addresses, exactly the blocks containing it. The label
    of a stretch is the most specific service among them (then the longest prefix); ``services`` is the union.
    """
    # Same-prefix entries become one block; sort outer blocks before the blocks they contain.
    blocks: dict[tuple[int, int], list[_Entry]] = {}
    for entry in entries:
        blocks.setdefault((entry.start, -entry.end), []).append(entry)
    starts: list[int] = []
    ends: list[int] = []
    labels: list[AwsRange] = []

    def emit(low: int, high: int, label: AwsRange) -> None:
        if low > high:
            return
        if labels and labels[-1] is label and ends[-1] + 1 == low:
            ends[-1] = high
            return
        starts.append(low)
        ends.append(high)
        labels.append(label)

    # Each open block: (last address, best entry so far, services so far, label).
    stack: list[tuple[int, _Entry, frozenset[str], AwsRange]] = []
    cursor = 0
    for (start, negative_end), members in sorted(blocks.items()):
        while stack and stack[-1][0] < start:
            closing = stack.pop()
            emit(cursor, closing[0], closing[3])
            cursor = closing[0] + 1
        if stack:
            emit(cursor, start - 1, stack[-1][3])
        best = min(members, key=lambda entry: (_service_order(entry.service), entry.region))
        services = frozenset(entry.service for entry in members)
        if stack:
            outer_best = stack[-1][1]
            if _specificity(outer_best.service) > _specificity(best.service):
                best = outer_best
            services |= stack[-1][2]
        if len(services) > 1:
            services -= {"AMAZON"}
        others = sorted(services - {best.service}, key=_service_order)
        label = AwsRange(best.prefix, best.service, best.region, (best.service, *others))
        stack.append((-negative_end, best, services, label))
        cursor = start
    while stack:
        closing = stack.pop()
        emit(cursor, closing[0], closing[3])
        cursor = closing[0] + 1
    return starts, ends, labels


class AwsIpRanges:
    """AWS's published ranges, ready for fast look-ups. Build with :meth:`load`."""

    def __init__(self, document: Mapping[str, Any], source: str = "<memory>") -> None:
        """Index an ip-ranges document (AWS's shape: ``prefixes``, ``ipv6_prefixes``, ``createDate``)."""
        v4_entries, v6_entries, skipped = _entries(document, source)
        self.source = source
        self.created: str = str(document.get("createDate") or "")
        self.sync_token: str = str(document.get("syncToken") or "")
        self.prefix_count = len({entry.prefix for entry in v4_entries}) + len({entry.prefix for entry in v6_entries})
        self.skipped = skipped
        self._v4 = _flatten(v4_entries)
        self._v6 = _flatten(v6_entries)
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
            return labels[index]
        return None


def build_compact_ranges(document: Mapping[str, Any]) -> dict[str, Any]:
    """Reduce AWS's ip-ranges document to what look-ups need, still in AWS's own shape.

    Keeps ``syncToken``, ``createDate`` and per prefix ``ip_prefix``/``ipv6_prefix``, ``region`` and
    ``service``; drops ``network_border_group`` and the ``AMAZON`` entries that repeat a prefix published
    under a more specific service. Sorted, so the same input always gives the same bytes.
    """
    v4_entries, v6_entries, _ = _entries(document, "<document>")
    compact: dict[str, Any] = {"syncToken": document.get("syncToken"), "createDate": document.get("createDate")}
    for (list_key, prefix_key, _family, _bits), entries in zip(_FAMILIES, (v4_entries, v6_entries), strict=True):
        ordered = sorted(entries, key=lambda entry: (entry.start, entry.prefix_len, entry.service, entry.region))
        compact[list_key] = [
            {prefix_key: entry.prefix, "region": entry.region, "service": entry.service} for entry in ordered
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
