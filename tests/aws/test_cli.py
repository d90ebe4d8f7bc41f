"""`graphtrail ingest s3://…` and its AWS options through the CLI: exit codes, stdout, stderr."""

from __future__ import annotations

import logging
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from graphtrail.case import Case
from graphtrail.cli import main
from tests.aws.conftest import northwind_members, upload


def _run(*args: str):
    return CliRunner().invoke(main, list(args))


@pytest.fixture(scope="module")
def small_bucket(moto_url: str) -> str:
    members = [(key, data) for key, data in northwind_members() if "CloudTrail-Digest" not in key][:20]
    upload(moto_url, "cli-small-trail", members)
    return "cli-small-trail"


def test_ingest_from_s3_assuming_a_role_prints_the_accounting(
    moto_url: str, small_bucket: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="graphtrail.aws.session")
    case = tmp_path / "c.case"
    role = "arn:aws:iam::123456789012:role/log-archive-reader"
    result = _run("ingest", f"s3://{small_bucket}", "--case", str(case), "--endpoint-url", moto_url,
                  "--role-arn", role, "--json")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    summary = orjson.loads(result.stdout)
    assert summary["files"]["ingested"] == 20
    assert summary["balanced"] is True
    assert f"assumed {role} as session graphtrail-" in caplog.text  # moto's STS answered AssumeRole
    assert "testing" not in caplog.text  # no credential is ever logged
    again = _run("ingest", f"s3://{small_bucket}", "--case", str(case), "--endpoint-url", moto_url, "--json")
    assert again.exit_code == 0
    assert orjson.loads(again.stdout)["files"]["skipped"] == {"already-ingested": 20}
    assert "20 objects were read by an earlier run" in again.stderr
    with Case(case) as stored:
        runs = [orjson.loads(row[0]) for row in stored.db.execute("SELECT paths FROM runs ORDER BY id")]
    assert runs[0] == [f"s3://{small_bucket}"]


def test_no_credentials_is_one_line_and_exit_2(moto_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    result = _run("ingest", "s3://cli-small-trail", "--case", str(tmp_path / "c.case"), "--endpoint-url", moto_url)
    assert result.exit_code == 2
    assert "error: no AWS credentials found" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_a_missing_bucket_and_an_empty_prefix_are_errors_without_traceback(
    moto_url: str, small_bucket: str, tmp_path: Path
) -> None:
    case = str(tmp_path / "c.case")
    missing = _run("ingest", "s3://no-such-trail-bucket-here", "--case", case, "--endpoint-url", moto_url)
    assert missing.exit_code == 2 and "no such bucket" in missing.stderr
    empty = _run("ingest", f"s3://{small_bucket}/AWSLogs/o-0000000000", "--case", case, "--endpoint-url", moto_url)
    assert empty.exit_code == 2
    assert "no CloudTrail log files under" in empty.stderr
    assert "Traceback" not in missing.stderr + empty.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--lookup", "logs/"], "give no PATHS"),
        (["s3://bucket", "logs/"], "separate runs"),
        (["logs/", "--account", "123456789012"], "--account applies to s3:// URLs"),
        ([], "give at least one PATH"),
    ],
)
def test_options_that_do_not_fit_together_are_usage_errors(args: list[str], message: str, tmp_path: Path) -> None:
    result = _run("ingest", *args, "--case", str(tmp_path / "c.case"))
    assert result.exit_code == 2
    assert message in result.stderr


def test_bad_option_values_are_named(tmp_path: Path) -> None:
    case = str(tmp_path / "c.case")
    role = _run("ingest", "s3://bucket", "--case", case, "--role-arn", "log-reader")
    assert role.exit_code == 2 and "is not a role ARN" in role.stderr
    start = _run("ingest", "s3://bucket", "--case", case, "--start", "last tuesday")
    assert start.exit_code == 2 and "--start 'last tuesday' is not a time" in start.stderr
    attribute = _run("ingest", "--lookup", "--case", case, "--attribute", "Colour=red")
    assert attribute.exit_code == 2 and "KEY=VALUE" in attribute.stderr
