"""Schedule files (recurring posts) as the tests write them."""

from __future__ import annotations

from pathlib import Path

from publisher.config.settings import Settings

DAILY = """\
unit = "haryana"
cron = "{minute} {hour} * * *"
[text]
hi = "हरियाणा डाक परिमंडल: आज का डाक सुझाव।"
en = "Haryana Postal Circle: today's postal tip."
"""


def write_rule(settings: Settings, name: str, text: str) -> Path:
    path = settings.paths.schedules / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path
