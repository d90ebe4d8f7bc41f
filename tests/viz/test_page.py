"""The page as text: self-contained, with JSON no log string can break out of."""

from __future__ import annotations

import json
import re

import pytest

from graphtrail.case import Case
from graphtrail.schema import NODE_KINDS
from graphtrail.viz import render_page
from graphtrail.viz.model import _bounded
from graphtrail.viz.page import script_json
from graphtrail.viz.style import KIND_STYLES, missing_kinds
from tests.viz.conftest import AGENT_PAYLOAD, SESSION_PAYLOAD, StudiedCase


def test_script_json_escapes_what_could_end_a_script_element() -> None:
    value = {"ua": "</script><script>alert(1)</script>", "c": "<!-- & -->", "line": "a\u2028b\u2029c"}
    text = script_json(value)
    for forbidden in ("<", ">", "&", "\u2028", "\u2029"):
        assert forbidden not in text
    assert json.loads(text) == value


def test_every_node_kind_of_the_schema_has_a_style() -> None:
    assert missing_kinds() == set()
    assert set(KIND_STYLES) == set(NODE_KINDS)


def test_secret_named_fields_are_never_carried_into_the_page() -> None:
    bounded = _bounded({"sessionToken": "IQoJb3JpZ2luX2VjE", "SecretAccessKey": "x", "bucket": "b"})
    assert bounded == {"bucket": "b"}


def test_page_inlines_its_assets_and_references_nothing_outside(northwind: StudiedCase) -> None:
    with Case(northwind.path) as case:
        page = render_page(case, northwind.report)
    assert "vis.Network" in page and "window.graphtrail" in page  # vis-network and the view, inlined
    assert not re.search(r"<(script|link|img|iframe)[^>]*\s(src|href)\s*=", page, re.IGNORECASE)
    assert not re.search(r"url\(\s*['\"]?(https?:)?//", page, re.IGNORECASE)
    assert "default-src 'none'" in page  # and the browser is told to refuse any load that slipped through


def test_hostile_strings_stay_inside_the_data_element(hostile: StudiedCase) -> None:
    with Case(hostile.path) as case:
        page = render_page(case, hostile.report)
    data = page.split('<script type="application/json" id="gt-data">', 1)[1].split("</script>", 1)[0]
    assert "<" not in data and ">" not in data
    decoded = json.loads(data)
    texts = json.dumps(decoded)
    assert json.dumps(SESSION_PAYLOAD)[1:-1] in texts
    assert json.dumps(AGENT_PAYLOAD[:60])[1:-1] in texts
    assert page.count("</script") == 3  # the data, vis-network, the view: no payload closed one early


@pytest.mark.parametrize("title", ["<b>x</b>", "a & b"])
def test_title_is_escaped(northwind: StudiedCase, title: str) -> None:
    with Case(northwind.path) as case:
        page = render_page(case, northwind.report, title=title)
    assert f"<title>{title}</title>" not in page
