"""The example config.toml, and the problems a config's load reports."""

from __future__ import annotations

from pathlib import Path

import pytest

from publisher.adapters.registry import load_config
from publisher.errors import ConfigError
from tests.support.files import REPO

EXAMPLE = (REPO / "config.toml").read_text(encoding="utf-8")


def problems(tmp_path: Path, text: str) -> str:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    return "\n".join(str(p) for p in err.value.problems)
