"""The Neo4j Browser style (`cypher/graphtrail.grass`), rendered from the browser view's colours so both views
colour a kind alike. Regenerate with `python -m graphtrail.graphdb.grass > cypher/graphtrail.grass`; a test
checks the file matches."""

from __future__ import annotations

from graphtrail.schema import NODE_KINDS
from graphtrail.viz.style import EDGE_COLOR, kind_style

_DIAMETERS = {"Account": 65, "Root": 60, "User": 55, "Role": 55, "Session": 50, "AccessKey": 45, "IP": 40}


def render_grass() -> str:
    """Grass for every node kind of the contract: fill and border from the browser view, `name` as caption."""
    blocks = [
        "node {\n  diameter: 45px;\n  color: #e5e7eb;\n  border-color: #9ca3af;\n  border-width: 2px;\n"
        "  text-color-internal: #111827;\n  font-size: 10px;\n  caption: '{name}';\n}",
        f"relationship {{\n  color: {EDGE_COLOR};\n  shaft-width: 1px;\n  font-size: 8px;\n  padding: 3px;\n"
        "  text-color-external: #111827;\n  text-color-internal: #ffffff;\n  caption: '<type>';\n}",
    ]
    for kind in sorted(NODE_KINDS):
        style = kind_style(kind)
        blocks.append(
            f"node.{kind} {{\n  diameter: {_DIAMETERS.get(kind, 45)}px;\n  color: {style.color};\n"
            f"  border-color: {style.border};\n  text-color-internal: #111827;\n  caption: '{{name}}';\n}}"
        )
    return "\n\n".join(blocks) + "\n"


if __name__ == "__main__":
    import sys

    sys.stdout.write(render_grass())
