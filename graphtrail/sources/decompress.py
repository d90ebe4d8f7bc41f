"""Recognize compression and archives by their magic bytes, and inflate gzip under a hard output cap.

Names lie (a `.json` that is gzip, a `.gz` that is a tarball), so readers look at the bytes. Inflating is
streamed in bounded steps: a gzip bomb stops at the cap instead of eating the machine, and a cut stream
still returns what was decoded before the cut.
"""

from __future__ import annotations

import bz2
import lzma
import zlib
from dataclasses import dataclass
from typing import Literal

GZIP_MAGIC = b"\x1f\x8b"
_BZIP2_MAGIC = b"BZh"
_XZ_MAGIC = b"\xfd7zXZ\x00"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")  # a member header, or the end record of an empty archive
_TAR_MAGIC_AT = slice(257, 262)  # "ustar" in POSIX and GNU headers
_INPUT_STEP = 1 << 20  # compressed bytes fed to zlib per step; bounds the work done past the cap

Compression = Literal["gzip", "bzip2", "xz", "zstd"]
ArchiveKind = Literal["zip", "tar", "tar.gz", "tar.bz2", "tar.xz"]


def detect_compression(head: bytes) -> Compression | None:
    """Name the compression of a byte stream from its first bytes (None: not compressed, or unknown)."""
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(_BZIP2_MAGIC):
        return "bzip2"
    if head.startswith(_XZ_MAGIC):
        return "xz"
    if head.startswith(_ZSTD_MAGIC):
        return "zstd"
    return None


def is_zip(head: bytes) -> bool:
    """True for the first bytes of a zip archive."""
    return head[:4] in _ZIP_MAGICS


def is_tar(head: bytes) -> bool:
    """True for the first (uncompressed) bytes of a POSIX or GNU tar archive."""
    return head[_TAR_MAGIC_AT] == b"ustar"


def detect_archive(head: bytes) -> ArchiveKind | None:
    """Name the archive kind from the first few KiB of a file, peeking inside gzip/bzip2/xz for a tar header."""
    if is_zip(head):
        return "zip"
    if is_tar(head):
        return "tar"
    compression = detect_compression(head)
    if compression is None or compression == "zstd":
        return None
    try:
        if compression == "gzip":
            inner = zlib.decompressobj(31).decompress(head, 1024)
        elif compression == "bzip2":
            inner = bz2.BZ2Decompressor().decompress(head, max_length=1024)
        else:
            inner = lzma.LZMADecompressor().decompress(head, max_length=1024)
    except (zlib.error, OSError, EOFError, lzma.LZMAError):
        return None
    if is_tar(inner):
        return "tar.gz" if compression == "gzip" else "tar.bz2" if compression == "bzip2" else "tar.xz"
    return None


@dataclass(frozen=True, slots=True)
class Inflated:
    """The result of inflating gzip data: what was decoded, and whether (and how) the stream fell short."""

    data: bytes
    problem: Literal["truncated-gzip", "corrupt-gzip", "decompressed-too-large"] | None = None
    detail: str = ""
    members: int = 1
    trailing_bytes: int = 0  # bytes after the last gzip member that are not gzip (padding or junk)


def gunzip(data: bytes, limit: int) -> Inflated:
    """Inflate (possibly multi-member) gzip `data`, never producing more than `limit` bytes.

    Concatenated members (Firehose, `cat a.gz b.gz`) are joined. On a cut or corrupt stream the bytes decoded
    so far are returned with `problem` set, so line-oriented content can keep its complete lines.
    """
    view = memoryview(data)
    size = len(data)
    parts: list[bytes] = []
    total = 0
    members = 1
    member_output = 0
    member_input = 0
    position = 0
    pending: bytes = b""
    inflater = zlib.decompressobj(31)
    while True:
        if pending:
            chunk: bytes | memoryview = pending
            pending = b""
        elif position < size:
            chunk = view[position : position + _INPUT_STEP]
            position += len(chunk)
        else:
            break
        member_input += len(chunk)
        try:
            out = inflater.decompress(chunk, limit - total + 1)
        except zlib.error as exc:
            if members > 1 and member_output == 0:
                trailing = member_input + size - position
                return Inflated(b"".join(parts), members=members - 1, trailing_bytes=trailing)
            return Inflated(
                b"".join(parts),
                "corrupt-gzip",
                f"gzip data is corrupt after {total:,} decompressed bytes ({exc})",
                members,
            )
        if out:
            parts.append(out)
            total += len(out)
            member_output += len(out)
        if total > limit:
            return Inflated(
                b"", "decompressed-too-large", f"decompresses to more than the {limit:,}-byte limit", members
            )
        if inflater.eof:
            pending = inflater.unused_data
            if not pending and position >= size:
                return Inflated(b"".join(parts), members=members)
            inflater = zlib.decompressobj(31)
            members += 1
            member_output = 0
            member_input = 0
    if members > 1 and member_output == 0:
        return Inflated(b"".join(parts), members=members - 1, trailing_bytes=member_input)
    return Inflated(
        b"".join(parts),
        "truncated-gzip",
        f"the gzip stream ends before its end marker (cut after {total:,} decompressed bytes)",
        members,
    )
