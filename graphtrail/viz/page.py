"""One self-contained HTML page: the template, vis-network and the view's own script and style inlined, and the
data embedded as JSON that no log string can break out of. The page loads nothing from anywhere.
"""

from __future__ import annotations

import base64
import hashlib
import html
from functools import cache
from importlib import resources
from typing import Any

import orjson

# Inside <script>, "</script>" or "<!--" in a string would end or change the element; U+2028/2029 end a line in
# older JavaScript parsers. Escaped as JSON unicode escapes, the parsed values are unchanged.
_JSON_ESCAPES = {b"<": b"\\u003c", b">": b"\\u003e", b"&": b"\\u0026",
                 "\u2028".encode(): b"\\u2028", "\u2029".encode(): b"\\u2029"}  # fmt: skip


def script_json(data: Any) -> str:
    """JSON safe to place inside a <script> element."""
    text = orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS)
    for raw, escaped in _JSON_ESCAPES.items():
        text = text.replace(raw, escaped)
    return text.decode()


def _csp_hash(script: str) -> str:
    """Only these exact scripts may run: an inline handler smuggled into the page would be refused."""
    digest = hashlib.sha256(script.encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode()}'"


@cache
def _asset(name: str) -> str:
    return resources.files("graphtrail.viz").joinpath(name).read_text(encoding="utf-8")


def render_html(model: dict[str, Any], title: str) -> str:
    """The page for `model` (see `graphtrail.viz.model.build_model`)."""
    scripts = (_asset("assets/vis-network/vis-network.min.js"), _asset("assets/view.js"))
    replacements = {
        "{{SCRIPT_HASHES}}": " ".join(_csp_hash(script) for script in scripts),
        "{{TITLE}}": html.escape(title),
        "{{VIS_CSS}}": _asset("assets/vis-network/vis-network.css"),
        "{{VIEW_CSS}}": _asset("assets/view.css"),
        "{{VIS_JS}}": scripts[0],
        "{{VIEW_JS}}": scripts[1],
        "{{DATA}}": script_json({**model, "title": title}),
    }
    page = _asset("templates/page.html")
    # One pass, so a placeholder that happens to appear inside an inlined asset or the data is left alone.
    parts: list[str] = []
    position = 0
    while True:
        start = page.find("{{", position)
        if start < 0:
            parts.append(page[position:])
            break
        end = page.index("}}", start) + 2
        parts.append(page[position:start])
        parts.append(replacements[page[start:end]])
        position = end
    return "".join(parts)
