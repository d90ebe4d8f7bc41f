"""Find the log files behind the paths a user names: files, folders, archives and stdin.

Listing is cheap and deterministic: folders are walked in sorted order, archives are listed (not read)
and every `LogFile` fetches its bytes only when asked. Whatever is not read is still reported, as a
`SkippedFile` (digest, not a log, hidden) or a `Rejected` (unreadable, too large, a broken archive).
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import re
import stat
import sys
import tarfile
import zipfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import BinaryIO

from graphtrail.errors import InputError
from graphtrail.sources.decompress import ArchiveKind, detect_archive, detect_compression
from graphtrail.sources.limits import DEFAULT_LIMITS, ReadLimits
from graphtrail.sources.records import RecordOrigin, Rejected, SkippedFile

STDIN_SOURCE = "<stdin>"
_HEAD_BYTES = 4096  # enough to see a zip magic, a tar header, or a tar header inside gzip
_LOG_SUFFIXES = (".json", ".jsonl", ".ndjson", ".gz", ".zip", ".tar", ".tgz")
_DIGEST_SEGMENT = "cloudtrail-digest"
# AccountID_CloudTrail_RegionName_YYYYMMDDTHHmmZ_UniqueString.json.gz (and Insights' `CloudTrail-Insight`).
_DELIVERED_NAME = re.compile(r"\d{12}_CloudTrail(?:-Insight)?_[a-z0-9-]+_\d{8}T\d{4}Z_[A-Za-z0-9]{16}\.json\.gz")
_ARCHIVE_ERRORS = (tarfile.TarError, zipfile.BadZipFile, OSError, EOFError, zlib.error, lzma.LZMAError, ValueError)


@dataclass(frozen=True, slots=True)
class LogFile:
    """One file or archive member to read. `source` is its display name (`a.zip!x/y.json.gz`, `<stdin>`)."""

    source: str
    size: int | None
    loader: Callable[[], bytes] = field(repr=False, compare=False)

    def read_bytes(self) -> bytes:
        """The raw (possibly compressed) bytes, read now. Raises OSError when they cannot be read."""
        return self.loader()


ListedItem = LogFile | Rejected | SkippedFile


def iter_log_files(
    paths: Sequence[str], *, stdin: BinaryIO | None = None, limits: ReadLimits = DEFAULT_LIMITS
) -> Iterator[ListedItem]:
    """List the log files under `paths` (files, folders walked recursively, archives, `-` for stdin).

    A path that does not exist is the user's mistake, not bad input: `InputError` is raised here, before
    anything is listed. Everything found is yielded in a stable order.
    """
    paths = [os.fspath(paths)] if isinstance(paths, str | os.PathLike) else [os.fspath(path) for path in paths]
    for path in paths:
        if path.startswith("s3://"):
            raise InputError(
                f"{path}: S3 is read by graphtrail.aws.ingest.ingest_s3 (`graphtrail ingest s3://…` on the "
                "command line), not as a local path"
            )
        if path != "-" and not os.path.exists(path):
            broken = os.path.islink(path)
            raise InputError(f"{path}: {'broken symbolic link' if broken else 'no such file or folder'}")
    return _Lister(limits, stdin).iter_paths(paths)


class _Lister:
    """One listing run: its limits, the stdin to use, and the folders already walked (symlink loops)."""

    def __init__(self, limits: ReadLimits, stdin: BinaryIO | None) -> None:
        self.limits = limits
        self.stdin = stdin
        self.walked: set[tuple[int, int]] = set()

    def iter_paths(self, paths: Sequence[str]) -> Iterator[ListedItem]:
        for path in paths:
            if path == "-":
                yield from self._stdin()
            elif os.path.isdir(path):
                yield from self._folder(path)
            else:
                yield from self._named_file(path)

    # --- the file system ----------------------------------------------------------------------------------

    def _folder(self, folder: str) -> Iterator[ListedItem]:
        try:
            info = os.stat(folder)
            if (info.st_dev, info.st_ino) in self.walked:
                yield SkippedFile(folder, "symlink-loop")
                return
            self.walked.add((info.st_dev, info.st_ino))
            with os.scandir(folder) as scan:
                entries = sorted(scan, key=lambda entry: entry.name)
        except OSError as exc:
            yield _unreadable(folder, f"cannot list the folder: {exc.strerror or exc}")
            return
        for entry in entries:
            path = os.path.join(folder, entry.name)
            if entry.name.startswith("."):
                yield SkippedFile(path, "hidden")
                continue
            try:
                is_folder = entry.is_dir()
                is_file = entry.is_file()
            except OSError as exc:
                yield _unreadable(path, exc.strerror or str(exc))
                continue
            if is_folder:
                yield from self._folder(path)
            elif is_file:
                yield from self._file(path, named=False)
            elif entry.is_symlink() and not os.path.exists(path):
                yield _unreadable(path, "broken symbolic link")
            else:
                yield SkippedFile(path, "not-a-regular-file")  # a FIFO or device: reading it could block

    def _named_file(self, path: str) -> Iterator[ListedItem]:
        """A file the user named is always tried; a pipe (`<(zcat …)`) is read once, right away."""
        try:
            mode = os.stat(path).st_mode
        except OSError as exc:
            yield _unreadable(path, exc.strerror or str(exc))
            return
        if stat.S_ISREG(mode):
            yield from self._file(path, named=True)
            return
        try:
            data = _read_path(path, self.limits.max_file_bytes)
        except OSError as exc:
            yield _unreadable(path, exc.strerror or str(exc))
            return
        yield from self._bytes(path, data)

    def _file(self, path: str, *, named: bool) -> Iterator[ListedItem]:
        if _is_digest_path(path):
            yield SkippedFile(path, "digest")
            return
        verdict = "log" if named else _name_verdict(os.path.basename(path))
        if verdict == "not-a-log":
            yield SkippedFile(path, "not-a-log")
            return
        # A file named as CloudTrail names what it delivers is gzip JSON, never an archive: it is not opened
        # here. A trail of many quiet accounts and Regions is hundreds of thousands of such files.
        delivered = _DELIVERED_NAME.fullmatch(os.path.basename(path)) is not None
        try:
            size = os.path.getsize(path)
            head = b""
            if not delivered:
                with open(path, "rb") as stream:
                    head = stream.read(_HEAD_BYTES)
        except OSError as exc:
            yield _unreadable(path, exc.strerror or str(exc))
            return
        if verdict == "sniff" and not _looks_like_log(head):
            yield SkippedFile(path, "not-a-log")
            return
        archive = None if delivered else detect_archive(head)
        if archive is not None:
            yield from self._archive(path, archive, partial(open, path, "rb"), depth=0)
        elif size > self.limits.max_file_bytes:
            yield _too_large(path, self.limits)
        else:
            yield LogFile(path, size, partial(_read_path, path, self.limits.max_file_bytes))

    def _stdin(self) -> Iterator[ListedItem]:
        stream = self.stdin if self.stdin is not None else sys.stdin.buffer
        try:
            data = stream.read(self.limits.max_file_bytes + 1)
        except OSError as exc:
            yield _unreadable(STDIN_SOURCE, exc.strerror or str(exc))
            return
        yield from self._bytes(STDIN_SOURCE, data)

    def _bytes(self, source: str, data: bytes) -> Iterator[ListedItem]:
        """Bytes already in memory (stdin, a pipe): an archive to list, or one log file."""
        if len(data) > self.limits.max_file_bytes:
            yield _too_large(source, self.limits)
            return
        archive = detect_archive(data[:_HEAD_BYTES])
        if archive is not None:
            yield from self._archive(source, archive, partial(io.BytesIO, data), depth=0)
        else:
            yield LogFile(source, len(data), partial(_identity, data))

    # --- archives -----------------------------------------------------------------------------------------

    def _archive(
        self, source: str, kind: ArchiveKind, opener: Callable[[], BinaryIO], depth: int
    ) -> Iterator[ListedItem]:
        """List an archive's members. Members are read later, through one shared handle per archive."""
        if kind == "zip":
            yield from self._zip(source, opener, depth)
        else:
            yield from self._tar(source, kind, opener, depth)

    def _zip(self, source: str, opener: Callable[[], BinaryIO], depth: int) -> Iterator[ListedItem]:
        limits = self.limits
        try:
            raw = opener()
        except OSError as exc:
            yield _unreadable(source, exc.strerror or str(exc))
            return
        try:
            archive = zipfile.ZipFile(raw)
        except _ARCHIVE_ERRORS as exc:
            raw.close()
            yield _broken_archive(source, exc)
            return
        handle = _ZipHandle(opener, limits.max_file_bytes)
        with raw, archive:
            members = 0
            for info in archive.infolist():
                if info.is_dir():
                    continue
                members += 1
                if members > limits.max_archive_members:
                    yield _too_many_members(source, limits)
                    return
                member = f"{source}!{info.filename}"
                verdict = _member_verdict(info.filename)
                if verdict in ("hidden", "digest", "not-a-log"):
                    yield SkippedFile(member, verdict)
                    continue
                if info.flag_bits & 0x1:
                    yield _unreadable(member, "the zip member is encrypted")
                    continue
                if info.file_size > limits.max_file_bytes:
                    yield _too_large(member, limits)
                    continue
                try:
                    with archive.open(info) as stream:
                        head = stream.read(_HEAD_BYTES)
                except (*_ARCHIVE_ERRORS, RuntimeError, NotImplementedError) as exc:
                    yield _unreadable(member, f"cannot read the zip member: {_error_text(exc)}")
                    continue
                if verdict == "sniff" and not _looks_like_log(head):
                    yield SkippedFile(member, "not-a-log")
                    continue
                nested = detect_archive(head)
                load = partial(handle.read, info)
                if nested is None:
                    handle.pending += 1
                    yield LogFile(member, info.file_size, load)
                elif depth >= 1:
                    yield _too_deep(member)
                else:
                    handle.pending += 2  # read once to list it, once more when its members are read
                    yield from self._nested(member, nested, load)

    def _tar(self, source: str, kind: ArchiveKind, opener: Callable[[], BinaryIO], depth: int) -> Iterator[ListedItem]:
        limits = self.limits
        handle = _TarHandle(opener, kind)
        members = 0
        try:
            with opener() as raw, tarfile.open(fileobj=raw, mode="r|*") as archive:
                for info in archive:
                    if info.isdir():
                        continue
                    members += 1
                    if members > limits.max_archive_members:
                        yield _too_many_members(source, limits)
                        return
                    member = f"{source}!{info.name}"
                    if not info.isfile() or info.issparse():
                        yield SkippedFile(member, "not-a-regular-file")
                        continue
                    verdict = _member_verdict(info.name)
                    if verdict in ("hidden", "digest", "not-a-log"):
                        yield SkippedFile(member, verdict)
                        continue
                    if info.size > limits.max_file_bytes:
                        yield _too_large(member, limits)
                        continue
                    stream = archive.extractfile(info)
                    head = stream.read(_HEAD_BYTES) if stream is not None else b""
                    if verdict == "sniff" and not _looks_like_log(head):
                        yield SkippedFile(member, "not-a-log")
                        continue
                    nested = detect_archive(head)
                    load = partial(handle.read, info.offset_data, info.size, member)
                    if nested is None:
                        handle.pending += 1
                        yield LogFile(member, info.size, load)
                    elif depth >= 1:
                        yield _too_deep(member)
                    else:
                        handle.pending += 2  # read once to list it, once more when its members are read
                        yield from self._nested(member, nested, load)
        except _ARCHIVE_ERRORS as exc:
            what = "the archive" if members == 0 else f"the archive after {members:,} members"
            yield Rejected(
                RecordOrigin(source, 0),
                "corrupt-archive",
                f"cannot read {what}: {_error_text(exc)}",
                whole_file=members == 0,
            )

    def _nested(self, member: str, kind: ArchiveKind, load: Callable[[], bytes]) -> Iterator[ListedItem]:
        """An archive inside an archive: list it now; its members re-read the outer member when needed."""
        try:
            data = load()
        except OSError as exc:
            yield _unreadable(member, str(exc))
            return
        if len(data) > self.limits.max_file_bytes:
            yield Rejected(
                RecordOrigin(member, 0), "decompressed-too-large", _larger_than(self.limits), whole_file=True
            )
            return
        first_open = [io.BytesIO(data)]
        del data

        def opener() -> BinaryIO:
            # The first open (the listing below) uses the bytes just read; later opens (reading members) read
            # the outer member again, so listed members do not keep a whole nested archive in memory.
            return first_open.pop() if first_open else io.BytesIO(load())

        yield from self._archive(member, kind, opener, depth=1)


class _ZipHandle:
    """Reads zip members on demand through one open ZipFile, closed once every listed member was read."""

    def __init__(self, opener: Callable[[], BinaryIO], limit: int) -> None:
        self.opener = opener
        self.limit = limit
        self.pending = 0
        self.raw: BinaryIO | None = None
        self.archive: zipfile.ZipFile | None = None

    def read(self, info: zipfile.ZipInfo) -> bytes:
        try:
            if self.archive is None:
                self.raw = self.opener()
                self.archive = zipfile.ZipFile(self.raw)
            with self.archive.open(info) as stream:
                # A member that inflates past the cap is cut at cap + 1 bytes; read_records rejects it as too large.
                data = stream.read(self.limit + 1)
        except (*_ARCHIVE_ERRORS, RuntimeError, NotImplementedError) as exc:
            self.close()
            raise OSError(f"cannot read zip member {info.filename}: {_error_text(exc)}") from exc
        self.pending -= 1
        if self.pending <= 0:
            self.close()
        return data

    def close(self) -> None:
        for stream in (self.archive, self.raw):
            if stream is not None:
                stream.close()
        self.archive = None
        self.raw = None


class _TarHandle:
    """Reads tar members on demand by offset through one open (decompressing) stream.

    Members read in listing order only ever seek forward, so a .tar.gz is inflated once.
    """

    def __init__(self, opener: Callable[[], BinaryIO], kind: ArchiveKind) -> None:
        self.opener = opener
        self.kind = kind
        self.pending = 0
        self.raw: BinaryIO | None = None
        self.stream: BinaryIO | None = None

    def read(self, offset: int, size: int, member: str) -> bytes:
        try:
            if self.stream is None:
                self.raw = self.opener()
                self.stream = _decompressing(self.raw, self.kind)
            self.stream.seek(offset)
            data = self.stream.read(size)
        except _ARCHIVE_ERRORS as exc:
            self.close()
            raise OSError(f"cannot read {member}: {_error_text(exc)}") from exc
        if len(data) != size:
            self.close()
            raise OSError(f"cannot read {member}: the archive ends inside this member")
        self.pending -= 1
        if self.pending <= 0:
            self.close()
        return data

    def close(self) -> None:
        for stream in (self.stream, self.raw):
            if stream is not None:
                stream.close()
        self.stream = self.raw = None


def _decompressing(raw: BinaryIO, kind: ArchiveKind) -> BinaryIO:
    if kind == "tar.gz":
        return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
    if kind == "tar.bz2":
        return bz2.BZ2File(raw, mode="rb")  # type: ignore[return-value]
    if kind == "tar.xz":
        return lzma.LZMAFile(raw, mode="rb")  # type: ignore[return-value]
    return raw


def _read_path(path: str, limit: int) -> bytes:
    """At most `limit` + 1 bytes of the file: over the cap, read_records rejects it, and memory stays bounded.

    Read with os.read in pieces sized by the file: a buffered `read(limit + 1)` first asks the allocator for the
    whole cap, which took 20 of the 25 µs that reading a delivered file of a few kilobytes cost.
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
    try:
        wanted = limit + 1
        step = max(os.fstat(fd).st_size + 1, _READ_STEP)  # + 1: a regular file comes in one read, then b""
        pieces: list[bytes] = []
        total = 0
        while total < wanted:
            piece = os.read(fd, min(step, wanted - total))
            if not piece:
                break
            pieces.append(piece)
            total += len(piece)
    finally:
        os.close(fd)
    return pieces[0] if len(pieces) == 1 else b"".join(pieces)


_READ_STEP = 1 << 16  # for files whose size the system does not know (pipes, /proc)


def _identity(data: bytes) -> bytes:
    return data


def _name_verdict(name: str) -> str:
    """`log` for log-like names, `sniff` for names without an extension (Firehose objects), else `not-a-log`."""
    lowered = name.lower()
    if lowered.endswith(_LOG_SUFFIXES):
        return "log"
    if "." not in name:
        return "sniff"
    return "not-a-log"


def _member_verdict(name: str) -> str:
    """Like `_name_verdict`, for an archive member path; also spots hidden and digest members."""
    segments = [segment for segment in name.replace("\\", "/").split("/") if segment not in ("", ".")]
    if not segments:
        return "not-a-log"
    if any(segment.startswith(".") or segment == "__MACOSX" for segment in segments):
        return "hidden"
    if _is_digest_path(name):
        return "digest"
    return _name_verdict(segments[-1])


def _is_digest_path(path: str) -> bool:
    """CloudTrail digest files live under `…/CloudTrail-Digest/…` and are named `…_CloudTrail-Digest_…`."""
    segments = path.replace("\\", "/").lower().split("/")
    return _DIGEST_SEGMENT in segments or f"_{_DIGEST_SEGMENT}_" in segments[-1]


def _looks_like_log(head: bytes) -> bool:
    """For files without an extension: compressed data, an archive, or text that starts like JSON."""
    if detect_compression(head) is not None or detect_archive(head) is not None:
        return True
    if head[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return True
    text = head.removeprefix(b"\xef\xbb\xbf").lstrip(b" \t\r\n")
    return text[:1] in (b"{", b"[")


def _unreadable(source: str, detail: str) -> Rejected:
    return Rejected(RecordOrigin(source, 0), "unreadable", detail, whole_file=True)


def _too_large(source: str, limits: ReadLimits) -> Rejected:
    return Rejected(RecordOrigin(source, 0), "file-too-large", _larger_than(limits), whole_file=True)


def _larger_than(limits: ReadLimits) -> str:
    return f"larger than the {limits.max_file_bytes:,}-byte limit"


def _too_many_members(source: str, limits: ReadLimits) -> Rejected:
    detail = f"more than {limits.max_archive_members:,} members; the rest of the archive was not read"
    return Rejected(RecordOrigin(source, 0), "too-many-members", detail, whole_file=False)


def _too_deep(member: str) -> Rejected:
    detail = "an archive inside an archive inside an archive; only one level of nesting is expanded"
    return Rejected(RecordOrigin(member, 0), "archive-too-deep", detail, whole_file=True)


def _broken_archive(source: str, exc: BaseException) -> Rejected:
    detail = f"cannot read the archive: {_error_text(exc)}"
    return Rejected(RecordOrigin(source, 0), "corrupt-archive", detail, whole_file=True)


def _error_text(exc: BaseException) -> str:
    text = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
