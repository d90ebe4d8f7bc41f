"""iter_log_files: what a user points at (folders, archives, stdin) becomes a stable list of log files, and
everything that is not read is still reported."""

from __future__ import annotations

import gzip
import io
import json
import os
import tarfile
import zipfile
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from graphtrail.errors import InputError
from graphtrail.sources import (
    LogFile,
    Notice,
    RawRecord,
    ReadLimits,
    Rejected,
    SkippedFile,
    iter_log_files,
    read_records,
)

DATA = Path(__file__).parent.parent / "data" / "cloudtrail"
INVICTUS = DATA / "invictus-ir-aws-dataset" / "CloudTrail"


def account(paths: list[str], limits: ReadLimits | None = None) -> Counter[str]:
    """List, then read every file, the way ingest does; count what came out of each stage."""
    limits = limits or ReadLimits()
    counts: Counter[str] = Counter()
    for listed in iter_log_files(paths, limits=limits):
        if isinstance(listed, SkippedFile):
            counts[f"listed-skip:{listed.reason}"] += 1
        elif isinstance(listed, Rejected):
            counts[f"listed-reject:{listed.reason}"] += 1
        else:
            counts["files"] += 1
            for item in read_records(listed.source, listed.read_bytes(), limits):
                if isinstance(item, RawRecord):
                    counts[f"record:{item.shape}"] += 1
                elif isinstance(item, Rejected):
                    counts[f"reject:{item.reason}{'!' if item.whole_file else ''}"] += 1
                elif isinstance(item, SkippedFile):
                    counts[f"skip:{item.reason}"] += 1
                elif isinstance(item, Notice):
                    counts[f"notice:{item.reason}"] += 1
    return counts


def listing(paths: list[str], **kwargs: Any) -> list[tuple[str, str]]:
    """(kind, source-or-reason) pairs, in listing order, with tmp paths made relative."""
    out = []
    for item in iter_log_files(paths, **kwargs):
        if isinstance(item, LogFile):
            out.append(("file", item.source))
        elif isinstance(item, SkippedFile):
            out.append((f"skip:{item.reason}", item.source))
        else:
            out.append((f"reject:{item.reason}", item.origin.source))
    return out


def real_records(count: int = 3) -> list[dict[str, Any]]:
    path = sorted(INVICTUS.glob("*.json"))[0]
    return json.loads(path.read_bytes())["Records"][:count]


def records_gz(count: int = 3) -> bytes:
    return gzip.compress(json.dumps({"Records": real_records(count)}).encode())


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def tar_bytes(members: dict[str, bytes], mode: str = "w") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode) as archive:  # type: ignore[call-overload]
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


# --- the bundled real data, with exact accounting -------------------------------------------------------------

EXPECTED = {
    # 13 files; SerializerTestFileBadJsonFormat.json has a broken first record (rejected) and a good second one.
    "aws-cloudtrail-processing-library-tests": {
        "files": 13,
        "listed-skip:not-a-log": 1,
        "record:records": 42,
        "reject:malformed-json": 1,
        "notice:records-salvaged": 1,
    },
    # {doc, event} lines are our own wrapper, not CloudTrail: every line is counted as not-cloudtrail.
    "awsdocs-examples": {"files": 2, "listed-skip:not-a-log": 2, "reject:not-cloudtrail": 28},
    # cloudtrail.zip holds the same 4 files as extracted/: 12 good records + 3 salvaged from the malformed file, twice.
    "cloudtrail2sightings-stratus-2022": {
        "files": 8,
        "listed-skip:not-a-log": 2,
        "record:records": 30,
        "notice:records-salvaged": 2,
    },
    # 55 trail files (2,900 records); labels_derived.jsonl has eventID/eventTime/eventName lines that a reader
    # cannot tell from thin records, so its 2,900 lines are read as jsonl records (the normalizer judges them).
    "invictus-ir-aws-dataset": {
        "files": 56,
        "listed-skip:not-a-log": 3,
        "record:records": 2900,
        "record:jsonl": 2900,
    },
    # rule_tests_cloudtrail.jsonl wraps events in {rule_id, log, ...}: 464 not-cloudtrail lines.
    "panther-analysis": {
        "files": 5,
        "listed-skip:not-a-log": 21,
        "record:records": 27,
        "reject:not-cloudtrail": 464,
    },
    # 35 technique files (310 records) + technique_index_derived.json, an array of 44 non-record objects.
    "stratus-red-team-detonation-logs": {
        "files": 36,
        "listed-skip:not-a-log": 2,
        "record:array": 310,
        "reject:not-cloudtrail": 44,
    },
}


@pytest.mark.parametrize("folder", sorted(EXPECTED))
def test_every_bundled_data_folder_reads_with_exact_accounting(folder: str) -> None:
    assert account([str(DATA / folder)]) == EXPECTED[folder]


def test_bundled_data_folders_are_all_accounted_for() -> None:
    assert sorted(path.name for path in DATA.iterdir() if path.is_dir()) == sorted(EXPECTED)
    whole = account([str(DATA)])
    expected = sum((Counter(counts) for counts in EXPECTED.values()), Counter())
    expected["listed-skip:not-a-log"] += 1  # INDEX.md
    assert whole == expected


def test_invictus_trail_files_read_exactly_their_records() -> None:
    assert account([str(INVICTUS)]) == {"files": 55, "record:records": 2900}
    for path in sorted(INVICTUS.glob("*.json")):
        expected = json.loads(path.read_bytes())["Records"]
        got = [item.data for item in read_records(str(path), path.read_bytes()) if isinstance(item, RawRecord)]
        assert got == expected, path.name


# --- folders --------------------------------------------------------------------------------------------------


def test_folder_walk_is_sorted_recursive_and_reports_what_it_skips(tmp_path: Path) -> None:
    blob = records_gz()
    write(tmp_path / "b.json", b"{}")
    write(tmp_path / "a" / "z.jsonl", b"{}")
    write(tmp_path / "a" / "y.ndjson", b"{}")
    write(tmp_path / "c.json.gz", blob)
    write(tmp_path / ".hidden.json", b"{}")
    write(tmp_path / ".git" / "config", b"[core]")
    write(tmp_path / "README.md", b"# logs")
    write(tmp_path / "LICENSE", b"MIT License")
    write(tmp_path / "trail-stream-1-2023-07-10-12-00-00-0c5a", blob)  # a Firehose object: no extension
    assert listing([str(tmp_path)]) == [
        ("skip:hidden", f"{tmp_path}/.git"),
        ("skip:hidden", f"{tmp_path}/.hidden.json"),
        ("skip:not-a-log", f"{tmp_path}/LICENSE"),
        ("skip:not-a-log", f"{tmp_path}/README.md"),
        ("file", f"{tmp_path}/a/y.ndjson"),
        ("file", f"{tmp_path}/a/z.jsonl"),
        ("file", f"{tmp_path}/b.json"),
        ("file", f"{tmp_path}/c.json.gz"),
        ("file", f"{tmp_path}/trail-stream-1-2023-07-10-12-00-00-0c5a"),
    ]


def test_file_named_explicitly_is_always_tried(tmp_path: Path) -> None:
    notes = write(tmp_path / "README.md", json.dumps({"Records": real_records(2)}).encode())
    (item,) = iter_log_files([str(notes)])
    assert isinstance(item, LogFile)
    assert (item.source, item.size) == (str(notes), notes.stat().st_size)
    assert item.read_bytes() == notes.read_bytes()


def test_organization_trail_layout_reads_logs_and_skips_digests_unread(tmp_path: Path) -> None:
    account_dir = tmp_path / "AWSLogs" / "o-abc123" / "111122223333"
    log = write(
        account_dir / "CloudTrail/us-east-1/2023/07/10/111122223333_CloudTrail_us-east-1_20230710T1220Z_abc.json.gz",
        records_gz(4),
    )
    digest = write(
        account_dir / "CloudTrail-Digest/us-east-1/2023/07/10/"
        "111122223333_CloudTrail-Digest_us-east-1_trail_us-east-1_20230710T122000Z.json.gz",
        b"not even gzip: a digest is never opened",
    )
    digest.chmod(0)
    assert listing([str(tmp_path)]) == [("file", str(log)), ("skip:digest", str(digest))]
    assert account([str(tmp_path)]) == {"files": 1, "listed-skip:digest": 1, "record:records": 4}


def test_files_named_as_cloudtrail_delivers_them_are_listed_without_being_opened(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from graphtrail.sources import files as files_module

    folder = tmp_path / "AWSLogs" / "111122223333" / "CloudTrail" / "us-east-1" / "2023" / "07" / "10"
    delivered = write(
        folder / "111122223333_CloudTrail_us-east-1_20230710T1220Z_Mu0KsOhtH1ar15ZZ.json.gz", records_gz(3)
    )
    other = write(folder / "export.json.gz", records_gz(2))
    opened: list[str] = []
    real_open = open

    def watching_open(file: Any, *args: Any, **kwargs: Any) -> Any:
        opened.append(os.fspath(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(files_module, "open", watching_open, raising=False)
    assert listing([str(tmp_path)]) == [("file", str(delivered)), ("file", str(other))]
    assert opened == [str(other)]  # only the file whose name promises nothing is sniffed for an archive
    (item, _) = iter_log_files([str(delivered), str(other)])
    assert isinstance(item, LogFile) and item.size == delivered.stat().st_size
    assert account([str(tmp_path)]) == {"files": 2, "record:records": 5}


def test_broken_symlink_in_a_folder_is_unreadable(tmp_path: Path) -> None:
    (tmp_path / "gone.json").symlink_to(tmp_path / "nowhere.json")
    assert listing([str(tmp_path)]) == [("reject:unreadable", f"{tmp_path}/gone.json")]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their permissions")
def test_file_without_read_permission_is_unreadable(tmp_path: Path) -> None:
    locked = write(tmp_path / "locked.json", b"{}")
    locked.chmod(0)
    (item,) = iter_log_files([str(tmp_path)])
    assert isinstance(item, Rejected)
    assert (item.reason, item.whole_file, item.detail) == ("unreadable", True, "Permission denied")


def test_fifo_in_a_folder_is_reported_not_opened(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.json")
    assert listing([str(tmp_path)]) == [("skip:not-a-regular-file", f"{tmp_path}/pipe.json")]


def test_symlink_loop_is_walked_once(tmp_path: Path) -> None:
    write(tmp_path / "logs" / "a.json", b"{}")
    (tmp_path / "logs" / "again").symlink_to(tmp_path / "logs")
    assert listing([str(tmp_path / "logs")]) == [
        ("file", f"{tmp_path}/logs/a.json"),
        ("skip:symlink-loop", f"{tmp_path}/logs/again"),
    ]


def test_file_over_the_size_cap_is_rejected_at_listing(tmp_path: Path) -> None:
    big = write(tmp_path / "big.json", b" " * 2000)
    assert listing([str(big)], limits=ReadLimits(max_file_bytes=1000)) == [("reject:file-too-large", str(big))]


def test_missing_path_is_a_user_error_raised_before_anything_is_listed(tmp_path: Path) -> None:
    write(tmp_path / "a.json", b"{}")
    missing = tmp_path / "typo.json"
    with pytest.raises(InputError, match=f"{missing}: no such file or folder"):
        iter_log_files([str(tmp_path), str(missing)])


# --- archives -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["zip", "tar", "tar.gz", "tgz"])
def test_archive_members_are_listed_with_archive_bang_member_names(tmp_path: Path, kind: str) -> None:
    members = {
        "inner/x.json.gz": records_gz(2),
        "inner/y.json": json.dumps(real_records(3)).encode(),
        "inner/README.md": b"# about",
        "__MACOSX/inner/._y.json": b"\x00\x05\x16\x07",
    }
    data = zip_bytes(members) if kind == "zip" else tar_bytes(members, "w" if kind == "tar" else "w:gz")
    archive = write(tmp_path / f"logs.{kind}", data)
    assert listing([str(archive)]) == [
        ("file", f"{archive}!inner/x.json.gz"),
        ("file", f"{archive}!inner/y.json"),
        ("skip:not-a-log", f"{archive}!inner/README.md"),
        ("skip:hidden", f"{archive}!__MACOSX/inner/._y.json"),
    ]
    assert account([str(archive)]) == {
        "files": 2,
        "listed-skip:not-a-log": 1,
        "listed-skip:hidden": 1,
        "record:records": 2,
        "record:array": 3,
    }


def test_archive_kind_comes_from_magic_bytes_not_the_name(tmp_path: Path) -> None:
    tarball = write(tmp_path / "export.json.gz", tar_bytes({"a.json": json.dumps(real_records(1)).encode()}, "w:gz"))
    zipped = write(tmp_path / "export.json", zip_bytes({"b.json": json.dumps(real_records(1)).encode()}))
    plain = write(tmp_path / "not-really.zip", json.dumps({"Records": real_records(1)}).encode())
    assert listing([str(tarball), str(zipped), str(plain)]) == [
        ("file", f"{tarball}!a.json"),
        ("file", f"{zipped}!b.json"),
        ("file", str(plain)),
    ]


def test_archive_members_are_read_lazily_and_in_any_order(tmp_path: Path) -> None:
    members = {f"m{n}.json": json.dumps({"Records": real_records(n + 1)}).encode() for n in range(4)}
    archive = write(tmp_path / "logs.tar.gz", tar_bytes(members, "w:gz"))
    files = [item for item in iter_log_files([str(archive)]) if isinstance(item, LogFile)]
    assert [file.size for file in files] == [len(data) for data in members.values()]
    for file, data in reversed(list(zip(files, members.values(), strict=True))):
        assert file.read_bytes() == data
    assert files[2].read_bytes() == members["m2.json"]  # read twice


def test_org_trail_tarball_from_a_customer_reads_like_the_folder(tmp_path: Path) -> None:
    prefix = "AWSLogs/o-abc123/111122223333/"
    members = {
        f"./{prefix}CloudTrail/us-east-1/2023/07/10/a.json.gz": records_gz(3),
        f"./{prefix}CloudTrail-Digest/us-east-1/2023/07/10/a_CloudTrail-Digest_x.json.gz": b"{}",
    }
    archive = write(tmp_path / "customer.tgz", tar_bytes(members, "w:gz"))
    assert account([str(archive)]) == {"files": 1, "listed-skip:digest": 1, "record:records": 3}


def test_one_level_of_nested_archives_is_expanded_and_deeper_is_rejected(tmp_path: Path) -> None:
    inner = zip_bytes({"day1/x.json.gz": records_gz(2)})
    outer = write(tmp_path / "bundle.tar.gz", tar_bytes({"daily/day1.zip": inner, "top.json": b"[]"}, "w:gz"))
    assert listing([str(outer)]) == [("file", f"{outer}!daily/day1.zip!day1/x.json.gz"), ("file", f"{outer}!top.json")]
    assert account([str(outer)]) == {"files": 2, "record:records": 2}
    deepest = write(tmp_path / "deep.zip", zip_bytes({"a.zip": zip_bytes({"b.zip": inner})}))
    assert listing([str(deepest)]) == [("reject:archive-too-deep", f"{deepest}!a.zip!b.zip")]


def test_member_over_the_size_cap_and_too_many_members_are_rejected(tmp_path: Path) -> None:
    members = {f"m{n}.json": b"[" + b" " * (100 * n) + b"]" for n in range(5)}
    archive = write(tmp_path / "logs.zip", zip_bytes(members))
    limits = ReadLimits(max_file_bytes=250, max_archive_members=4)
    assert listing([str(archive)], limits=limits) == [
        ("file", f"{archive}!m0.json"),
        ("file", f"{archive}!m1.json"),
        ("file", f"{archive}!m2.json"),
        ("reject:file-too-large", f"{archive}!m3.json"),
        ("reject:too-many-members", str(archive)),
    ]


def test_zip_bomb_member_is_cut_at_the_cap_and_rejected_when_read(tmp_path: Path) -> None:
    archive = write(tmp_path / "bomb.zip", zip_bytes({"a.json": b"[" + b" " * 5_000_000 + b"]"}))
    limits = ReadLimits(max_file_bytes=10_000_000)
    (member,) = iter_log_files([str(archive)], limits=limits)
    assert isinstance(member, LogFile)
    small = ReadLimits(max_file_bytes=1_000_000)
    (item,) = read_records(member.source, member.read_bytes(), small)
    assert isinstance(item, Rejected) and item.reason == "file-too-large"


def test_corrupt_archives_are_rejected(tmp_path: Path) -> None:
    broken = write(tmp_path / "broken.zip", zip_bytes({"a.json": b"[]"})[:-10])
    assert listing([str(broken)]) == [("reject:corrupt-archive", str(broken))]
    whole = tar_bytes({"a.json": json.dumps(real_records(50)).encode(), "b.json": b"[]"}, "w:gz")
    cut = write(tmp_path / "cut.tar.gz", whole[:2000])
    member, rejected = iter_log_files([str(cut)])
    assert isinstance(member, LogFile) and member.source == f"{cut}!a.json"  # its header was intact
    assert isinstance(rejected, Rejected)
    assert (rejected.reason, rejected.whole_file) == ("corrupt-archive", False)
    assert rejected.detail.startswith("cannot read the archive after 1 members: ")
    with pytest.raises(OSError, match=f"cannot read {cut}!a.json: "):
        member.read_bytes()


# --- stdin ----------------------------------------------------------------------------------------------------


def test_dash_reads_stdin(tmp_path: Path) -> None:
    lines = b"\n".join(json.dumps(record).encode() for record in real_records(3))
    (item,) = iter_log_files(["-"], stdin=io.BytesIO(gzip.compress(lines)))
    assert isinstance(item, LogFile) and item.source == "<stdin>"
    assert [r.shape for r in read_records(item.source, item.read_bytes()) if isinstance(r, RawRecord)] == ["jsonl"] * 3


def test_dash_with_a_tarball_on_stdin_lists_its_members() -> None:
    data = tar_bytes({"a.json": b"[]", "b.json.gz": records_gz(1)}, "w:gz")
    assert listing(["-"], stdin=io.BytesIO(data)) == [("file", "<stdin>!a.json"), ("file", "<stdin>!b.json.gz")]


def test_file_that_grew_past_the_cap_after_listing_is_read_only_to_cap_plus_one(tmp_path: Path) -> None:
    log = tmp_path / "grows.json"
    log.write_bytes(b"x" * 500)
    (item,) = iter_log_files([str(log)], limits=ReadLimits(max_file_bytes=1000))
    assert isinstance(item, LogFile)
    log.write_bytes(b"y" * 300_000)
    assert item.read_bytes() == b"y" * 1001
    log.write_bytes(b"")
    assert item.read_bytes() == b""


def test_file_larger_than_one_read_step_is_read_whole(tmp_path: Path) -> None:
    content = os.urandom(200_000)
    log = tmp_path / "big.json"
    log.write_bytes(content)
    (item,) = iter_log_files([str(log)], limits=ReadLimits(max_file_bytes=1_000_000))
    assert isinstance(item, LogFile) and item.read_bytes() == content


def test_pipe_named_on_the_command_line_is_read_to_its_end(tmp_path: Path) -> None:
    # `graphtrail ingest <(zcat logs.gz)` names a pipe: its size is unknown, so it is read in steps until EOF.
    import threading

    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    content = json.dumps({"Records": [{"eventID": str(index), "padding": "x" * 200} for index in range(2000)]})
    writer = threading.Thread(target=lambda: pipe.write_text(content))
    writer.start()
    (item,) = iter_log_files([str(pipe)], limits=ReadLimits(max_file_bytes=1_000_000))
    writer.join()
    assert isinstance(item, LogFile) and item.read_bytes() == content.encode()
