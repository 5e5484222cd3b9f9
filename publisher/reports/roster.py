"""The roster the state's digital-media section asks for: per unit, the nodal officer (name,
designation, e-mail, phone) and each account on each platform. Read from config.toml only."""

from __future__ import annotations

import csv
import io
from typing import Any

from publisher.adapters.registry import adapter_class
from publisher.config.organisation import Account
from publisher.config.settings import Settings
from publisher.reports.html import TEMPLATES

COLUMNS = ("unit", "unit_name", "officer", "designation", "email", "phone", "platform",
           "account", "url", "platform_id", "languages")  # fmt: skip


def profile_url(account: Account) -> str:
    """The account's public page (its adapter's rules say where); e-mail "accounts" have none."""
    pattern = adapter_class(account.platform).rules.profile_url
    return pattern.format(account.handle) if pattern else ""


def roster_rows(settings: Settings) -> list[dict[str, Any]]:
    """One row per account, the unit's officer repeated on each; a unit without accounts still
    has one row, so no officer is left off."""
    rows = []
    for uid, unit in settings.units.items():
        officer = unit.nodal_officer
        common = {
            "unit": uid,
            "unit_name": unit.name,
            "officer": officer.name,
            "designation": officer.designation,
            "email": officer.email,
            "phone": officer.phone,
        }
        blank = dict.fromkeys(("platform", "account", "url", "platform_id", "languages"), "")
        rows += [
            {
                **common,
                "platform": a.platform,
                "account": f"@{a.handle}" if adapter_class(a.platform).rules.mentions else a.handle,
                "url": profile_url(a),
                "platform_id": a.platform_id or "",
                "languages": ", ".join(a.locales),
            }
            for a in unit.accounts
        ] or [{**common, **blank}]
    return rows


def roster_csv(settings: Settings) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(roster_rows(settings))
    return out.getvalue()


def roster_html(settings: Settings) -> str:
    """One self-contained page: a table per unit, officer first, then the accounts."""
    return TEMPLATES.get_template("roster.html.j2").render(
        organisation=settings.organisation.name, settings=settings, profile_url=profile_url
    )
