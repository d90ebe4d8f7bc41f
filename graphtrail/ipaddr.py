"""CloudTrail's ``sourceIPAddress``: the caller's addresses, or the AWS service that made the call for it.

The field is not always an address. It can hold two addresses (a client and a proxy), an IPv6 address in
brackets with a port, a service DNS name (``cloudformation.amazonaws.com``) or ``AWS Internal``. Only valid
addresses may become IP nodes, so everything goes through :func:`parse_source_ip` first.
"""

from __future__ import annotations

import ipaddress
import re
from functools import lru_cache

__all__ = ["normalize_ip", "parse_source_ip"]

# Separators seen between two addresses in one field.
_SPLIT_RE = re.compile(r"[,\s]+")
# Dotted quad whose octets may carry leading zeros (``075.050.255.67``).
_PADDED_V4_RE = re.compile(r"(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})")
# ``1.2.3.4:443``: an IPv4 address followed by a port.
_V4_PORT_RE = re.compile(r"(\d{1,3}(?:\.\d{1,3}){3}):\d{1,5}")
# ``[2001:db8::1]:443`` or ``[2001:db8::1]``.
_BRACKETED_RE = re.compile(r"\[([0-9A-Fa-f:.]+(?:%[\w.-]+)?)\](?::\d{1,5})?")
# A DNS name with at least two labels and an alphabetic top label: ``lambda.amazonaws.com``, ``iam.api.aws``.
_DNS_NAME_RE = re.compile(r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z][A-Za-z0-9-]{0,61}")
# What AWS writes when its own infrastructure made the call: ``AWS Internal`` or ``AWS Internal/3``.
_AWS_INTERNAL_RE = re.compile(r"AWS Internal(?:/\S{1,64})?")


def normalize_ip(token: str) -> str | None:
    """Return the canonical text of one address token, or None if it is not an address.

    Strips a port (``1.2.3.4:443``) and brackets (``[2001:db8::1]:443``), folds IPv4-mapped IPv6
    (``::ffff:1.2.3.4``) to the IPv4 address so both spellings make one IP node, and compresses IPv6.

    Leading zeros in IPv4 octets are read as decimal and dropped (``075.050.255.67`` → ``75.50.255.67``).
    Python's ``ipaddress`` rejects such octets since 3.9.5 (CVE-2021-29921) because C's ``inet_aton`` reads
    them as octal, which made them a filter-bypass trick. AWS writes plain decimal octets; zero-padded ones
    come from anonymisers, such as the one used on the Stratus Red Team detonation logs (``075.050.255.67``,
    ``253.252.51.07``). The digits are meant as decimal there: rejecting them would drop the caller's address
    from the graph, and reading them as octal would turn it into a different one.
    """
    token = token.strip()
    if not token:
        return None
    bracketed = _BRACKETED_RE.fullmatch(token)
    if bracketed:
        token = bracketed.group(1)
    else:
        with_port = _V4_PORT_RE.fullmatch(token)
        if with_port:
            token = with_port.group(1)
    padded = _PADDED_V4_RE.fullmatch(token)
    if padded:
        octets = [int(part) for part in padded.groups()]
        if any(octet > 255 for octet in octets):
            return None
        token = ".".join(map(str, octets))
    try:
        address = ipaddress.ip_address(token)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)


def _is_service_name(text: str) -> bool:
    return bool(_AWS_INTERNAL_RE.fullmatch(text) or (len(text) <= 253 and _DNS_NAME_RE.fullmatch(text)))


def parse_source_ip(text: str | None) -> tuple[list[str], str | None]:
    """Split a ``sourceIPAddress`` value into (addresses, service name).

    - ``"3.225.16.109"`` → ``(["3.225.16.109"], None)``
    - ``"203.0.113.5, 10.0.0.1"`` (or space-separated) → both addresses, in order, without duplicates
    - ``"cloudformation.amazonaws.com"`` / ``"AWS Internal"`` → ``([], the name)``
    - placeholders and garbage (``"redacted"``, ``"<Attacker source IP>"``, ``"999.1.1.1"``) → ``([], None)``,
      so a caller can count the value as unusable instead of making an IP or Service node of it.

    If some tokens are addresses and others are not, the addresses are returned and the rest is dropped.
    Never raises. Answers are memoized: a log holds few distinct values, each seen many times.
    """
    if not isinstance(text, str):
        return [], None
    addresses, service = _parse_cached(text)
    return list(addresses), service


@lru_cache(maxsize=1 << 16)
def _parse_cached(text: str) -> tuple[tuple[str, ...], str | None]:
    text = text.strip()
    if not text:
        return (), None
    whole = normalize_ip(text)
    if whole is not None:
        return (whole,), None
    addresses: list[str] = []
    all_addresses = True
    for token in _SPLIT_RE.split(text):
        if not token:
            continue
        address = normalize_ip(token)
        if address is None:
            all_addresses = False
        elif address not in addresses:
            addresses.append(address)
    if addresses and all_addresses:
        return tuple(addresses), None
    if _is_service_name(text):
        return (), text
    return tuple(addresses), None
