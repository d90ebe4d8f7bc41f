"""placeholder"""

from __future__ import annotations

from graphtrail.hunts import HuntSpec

HUNTS: list[HuntSpec] = []
