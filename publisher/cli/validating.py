"""``validate``: a post file, a schedule file or a config checked and previewed before it is
dropped in; changes nothing."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from itertools import islice
from pathlib import Path

from publisher.adapters.registry import load_config
from publisher.cli.output import explain
from publisher.clock import local, system_clock
from publisher.config.settings import Settings
from publisher.config.tomlfile import parse_toml
from publisher.errors import InputError, PublisherError
from publisher.intake.postfile import parse_post
from publisher.intake.schedulefile import parse_schedule, preview
from publisher.planning.plan import Plan, plan
from publisher.planning.preview import parts_lines
from publisher.planning.render import Renderer


def validate(config_path: Path, paths: Sequence[Path], unit: str | None) -> int:
    """Check each file; a config is recognised by its [organisation] table, a schedule file by
    its cron key or by lying in the schedules folder."""
    failed = 0
    settings: Settings | None = None
    for path in paths:
        try:
            raw = path.read_bytes()
            data = parse_toml(raw.decode("utf-8", "replace"), str(path), InputError)
            if "organisation" in data:
                load_config(path)
                print(f"{path}: a valid config")
                continue
            settings = settings or load_config(config_path)
            if "cron" in data or path.resolve().parent == settings.paths.schedules.resolve():
                _preview_schedule(settings, path)
                continue
            _preview(settings, path, raw, unit or path.resolve().parent.name)
        except InputError as exc:
            failed += 1
            print(explain(exc))
        except PublisherError as exc:
            failed += 1
            print(f"publisher: {exc}")
        except OSError as exc:
            failed += 1
            print(f"publisher: {path}: {exc.strerror}")
    return 1 if failed else 0


def _preview(settings: Settings, path: Path, raw: bytes, unit: str) -> None:
    if unit not in settings.units:
        msg = f"{path}: say which unit it is for with --unit (one of: {', '.join(settings.units)})"
        raise PublisherError(msg)
    now = system_clock()
    request = parse_post(
        raw, unit, path.name, settings.zone, now, timedelta(hours=settings.intake.max_past_hours)
    )
    renderer = Renderer.from_settings(settings)
    planned = plan(request, settings, renderer)
    print(f"{path}: valid, {len(planned.deliveries)} deliveries for unit {unit}:")
    _print_plan(planned)


def _preview_schedule(settings: Settings, path: Path, firings: int = 5) -> None:
    """A schedule file checked, its next firings, and the deliveries of the first of them."""
    renderer = Renderer.from_settings(settings)
    now = system_clock()
    rule = parse_schedule(path, settings, renderer, now)
    upcoming = list(islice(rule.firings(now), firings))
    firing = preview(rule, upcoming[0], settings, renderer)
    zone = settings.organisation.timezone
    print(f"{path}: valid, rule '{rule.name}' for unit {rule.unit}, cron '{rule.cron}' ({zone}).")
    print("Next firings:")
    print("\n".join(f"  {local(w, settings.zone)}  ({w:%Y-%m-%d %H:%M} UTC)" for w in upcoming))
    print(f"Each makes {len(firing.deliveries)} deliveries:")
    _print_plan(firing)


def _print_plan(planned: Plan) -> None:
    """The deliveries, each with its parts and notes, then what the post skips."""
    for d in planned.deliveries:
        print(f"  {d.account.key} ({d.locale})")
        print("\n".join(parts_lines(d.parts, d.notes, indent="    ")))
    for note in planned.skipped:
        print(f"  skipped: {note}")
