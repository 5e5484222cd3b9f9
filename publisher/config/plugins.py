"""The names of the installed platforms, read from the ``publisher.adapters`` entry-point group.

Config validation needs the names only; loading the adapter classes (and their client libraries)
waits until an adapter is built (publisher.adapters).
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import entry_points

GROUP = "publisher.adapters"


@cache
def platform_names() -> frozenset[str]:
    """Every platform an installed package provides an adapter for, this project's own included."""
    return frozenset(point.name for point in entry_points(group=GROUP))
