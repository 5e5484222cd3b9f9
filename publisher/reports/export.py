"""The report as JSON-ready data and as CSV, for other programs and spreadsheets.

report.py gathers the figures from the ledger; this module only lays them out, one shape per
format (report_html.py lays them out for people). Local times are in the organisation's zone.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any

from publisher.reports.report import KPIS, Kpis, Report


def as_dict(report: Report) -> dict[str, Any]:
    """The report as JSON-ready data: units, their accounts, and each account's posts."""
    zone = report.zone

    def stamp(when: datetime | None) -> str | None:
        return when.astimezone(zone).isoformat(timespec="minutes") if when else None

    def kpis(k: Kpis) -> dict[str, Any]:
        return {
            "measured_posts": k.measured,
            **{name: getattr(k, name) for name in KPIS},
            **{f"{name}_per_post": k.per_post(name) for name in KPIS},
        }

    return {
        "organisation": report.organisation,
        "timezone": report.zone.key,
        "from": report.first.isoformat(),
        "to": report.last.isoformat(),
        "window_end": stamp(report.end),
        "generated_at": stamp(report.generated_at),
        "units": [
            {
                "unit": u.unit,
                "name": u.name,
                "posts": u.posts,
                "posts_by_platform": dict(u.by_platform),
                "posts_by_language": dict(u.by_language),
                "posts_per_day": {d.isoformat(): u.per_day[d] for d in report.days},
                "tag_checked": u.tag_checked,
                "tag_compliant": u.tag_compliant,
                "kpis": kpis(u.kpis),
                "amplified": u.amplified,
                "failures": u.failures,
                "accounts": [
                    {
                        "account": a.account,
                        "platform": a.platform,
                        "handle": a.handle,
                        "posts": a.posts,
                        "posts_by_language": dict(a.by_language),
                        "last_post": stamp(a.last_post),
                        "days_since_last_post": a.days_since_last_post,
                        "longest_silence_days": a.longest_silence_days,
                        "tag_checked": a.tag_checked,
                        "tag_compliant": a.tag_compliant,
                        "kpis": kpis(a.kpis),
                        "amplified": a.amplified,
                        "failures": a.failures,
                        "failure_causes": dict(a.causes),
                        "posts_list": [
                            {
                                "delivery": p.delivery_id,
                                "post": p.post,
                                "locale": p.locale,
                                "published_at": stamp(p.published_at),
                                "url": p.url,
                                "tag_compliant": p.compliant,
                                "missing_tags": p.missing_tags,
                                "kpis": kpis(p.kpis) if p.kpis.measured else None,
                            }
                            for p in a.lines
                        ],
                    }
                    for a in u.accounts
                ],
            }
            for u in report.units
        ],
    }


CSV_COLUMNS = (
    "unit", "unit_name", "platform", "account", "posts", "posts_by_language", "last_post",
    "days_since_last_post", "longest_silence_days", "tag_checked", "tag_compliant",
    "measured_posts", "likes", "shares", "comments", "views", "likes_per_post",
    "shares_per_post", "comments_per_post", "views_per_post", "amplified", "failures",
    "failure_causes",
)  # fmt: skip


def report_csv(report: Report) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(csv_rows(report))
    return out.getvalue()


def csv_rows(report: Report) -> list[dict[str, Any]]:
    """One row per account, in config order; empty cells where there is no figure."""
    zone = report.zone
    rows = []
    for u in report.units:
        for a in u.accounts:
            k = a.kpis
            rows.append(
                {
                    "unit": u.unit,
                    "unit_name": u.name,
                    "platform": a.platform,
                    "account": a.handle,
                    "posts": a.posts,
                    "posts_by_language": "; ".join(
                        f"{loc}={n}" for loc, n in sorted(a.by_language.items())
                    ),
                    "last_post": a.last_post.astimezone(zone).strftime("%Y-%m-%d %H:%M")
                    if a.last_post
                    else "",
                    "days_since_last_post": _cell(a.days_since_last_post),
                    "longest_silence_days": a.longest_silence_days,
                    "tag_checked": a.tag_checked,
                    "tag_compliant": a.tag_compliant,
                    "measured_posts": k.measured,
                    **{name: _cell(getattr(k, name)) for name in KPIS},
                    **{f"{name}_per_post": _cell(k.per_post(name)) for name in KPIS},
                    "amplified": a.amplified,
                    "failures": a.failures,
                    "failure_causes": "; ".join(
                        f"{cause} (x{n})" for cause, n in a.causes.most_common()
                    ),
                }
            )
    return rows


def _cell(value: float | None) -> float | str:
    return "" if value is None else value
