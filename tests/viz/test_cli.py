"""`graphtrail viz`: writes the page, says what it drew, and turns a bad focus into a clear error."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from graphtrail.cli import main
from tests.viz.conftest import StudiedCase


def test_viz_writes_a_page_and_says_what_it_drew(northwind: StudiedCase, tmp_path: Path) -> None:
    out = tmp_path / "view.html"
    result = CliRunner().invoke(main, ["viz", "--case", str(northwind.path), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert f"wrote {out}:" in result.stderr and "2 incidents" in result.stderr
    assert out.read_text().startswith("<!DOCTYPE html>")


def test_viz_over_the_cap_says_how_to_narrow(northwind: StudiedCase, tmp_path: Path) -> None:
    out = tmp_path / "view.html"
    result = CliRunner().invoke(main, ["viz", "--case", str(northwind.path), "--max-nodes", "10", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "nodes left out over the cap of 10" in result.stderr and "--around NODE --hops K" in result.stderr


def test_viz_rejects_an_unknown_finding_and_two_focuses(northwind: StudiedCase, tmp_path: Path) -> None:
    out = tmp_path / "view.html"
    unknown = CliRunner().invoke(main, ["viz", "--case", str(northwind.path), "--finding", "GT-nope", "-o", str(out)])
    assert unknown.exit_code == 2
    assert "no finding GT-nope" in unknown.stderr
    assert not out.exists()
    both = CliRunner().invoke(main, ["viz", "--case", str(northwind.path), "--incident", "1", "--finding", "GT-x"])
    assert both.exit_code == 2
    assert "choose one" in both.stderr
