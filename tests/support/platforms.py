"""The four fake platforms running together on 127.0.0.1, one unit whose accounts (X, Facebook,
Instagram, e-mail, each in Hindi and English) point at them, and what the fakes themselves say was
published. For tests and benchmarks that run the daemon for real against the fakes: the fakes live
in the caller's process, so a daemon killed with SIGKILL leaves their records intact."""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from tests.fakes.graph_api import FakeGraph
from tests.fakes.smtp import FakeSMTP
from tests.fakes.x_api import FakeX
from tests.support.files import REPO

UNIT = "haryana"
LOCALES = ("hi", "en")
X_USER, PAGE, IG_USER = "1001", "200", "300"
ACCOUNTS = {  # account key -> credential name
    "x:HaryanaPostal": "x-haryana",
    "facebook:HaryanaPostalCircle": "facebook-haryana",
    "instagram:haryanapostalcircle": "instagram-haryana",
    "email:marketing": "email-haryana",
}
SECRETS = {
    "x-haryana": {"consumer_key": "app-key", "consumer_secret": "app-secret",
                  "access_token": f"{X_USER}-token", "access_token_secret": "token-secret"},
    "facebook-haryana": {"page_access_token": "EAAB-page"},
    "instagram-haryana": {"access_token": "EAAB-ig"},
    "email-haryana": {"username": "smtp-haryana", "password": "smtp-pass"},
}  # fmt: skip


@dataclass
class Platforms:
    x: FakeX
    graph: FakeGraph
    smtp: FakeSMTP
    config: Path

    @property
    def database(self) -> Path:
        return self.config.parent / "var" / "state" / "publisher.db"

    @property
    def queue(self) -> Path:
        return self.config.parent / "var" / "queue"

    def published(self) -> list[tuple[str, str, str]]:
        """Everything the fakes hold as published, by their own records: (account key, main
        text, remote id). A remote post is one tweet, one published Page post, one Instagram
        post (not a carousel child) or one e-mail message; its text is the post's main text
        (an e-mail's first paragraph, before the photos' descriptions)."""
        out = [("x:HaryanaPostal", t.text, t.id) for t in self.x.tweets if t.reply_to is None]
        with self.graph.lock:
            posts = list(self.graph.posts.values())
            media = list(self.graph.ig_media.values())
        out += [("facebook:HaryanaPostalCircle", p.message or "", p.id)
                for p in posts if p.is_published]  # fmt: skip
        out += [("instagram:haryanapostalcircle", m.caption or "", m.id)
                for m in media if m.parent_id is None]  # fmt: skip
        for sent in list(self.smtp.messages):
            body = sent.message.get_body(("plain",))
            assert body is not None
            text = str(body.get_content()).replace("\r\n", "\n").split("\n\n")[0].rstrip("\n")
            out.append(("email:marketing", text, str(sent.message["Message-ID"])))
        return out

    def count(self) -> int:
        """How many remote posts the fakes hold, cheaply (no parsing), to time a kill by."""
        return self.x.count_posts() + self.graph.count_published() + len(self.smtp.messages)

    def copies(self) -> Counter[tuple[str, str]]:
        """How many remote posts each (account, text) has on the fakes."""
        return Counter((account, text) for account, text, _ in self.published())


class LedgerRow(Protocol):
    """A delivery as read from the ledger (sqlite3.Row, SQLAlchemy's RowMapping): by column."""

    def __getitem__(self, column: str) -> Any: ...


def assert_published_once(platforms: Platforms, rows: Sequence[LedgerRow]) -> None:
    """By the fakes' own records: each delivery is exactly one remote post, nothing else was
    posted, and the ledger names the very remote post the fake holds. ``rows``: every delivery,
    with its id, account, text and remote_id."""
    wanted = Counter((r["account"], r["text"]) for r in rows)
    assert len(wanted) == len(rows)  # every delivery's text is its own: a count per delivery
    copies = platforms.copies()
    twice = {k: n for k, n in copies.items() if n > 1}
    missing = [k for k in wanted if k not in copies]
    extra = [k for k in copies if k not in wanted]
    assert (len(twice), len(missing), len(extra)) == (0, 0, 0), (
        f"twice: {list(twice)[:3]}, missing: {missing[:3]}, extra: {extra[:3]} (the first 3)"
    )
    remote = {(account, text): remote_id for account, text, remote_id in platforms.published()}
    assert [r["id"] for r in rows if r["remote_id"] != remote[r["account"], r["text"]]] == []


def config_text(
    platforms: Platforms,
    secrets: Path,
    *,
    lease_seconds: float,
    poll_seconds: float,
    database_url: str | None = None,
    quotas: bool = True,
) -> str:
    """A small organisation: the directorate (no accounts) and Haryana with one account per
    platform, all on the fakes; no tag groups, so each delivery is one main post. Quick polling
    and a short lease, so a killed daemon's deliveries are reconciled within seconds. The ledger
    at ``database_url`` (default: SQLite in the state folder); without ``quotas``, no platform
    spaces its posts at all (a burst of thousands, far beyond any day's quota)."""
    x, graph, smtp = platforms.x, platforms.graph, platforms.smtp
    burst = '[{ per = "account", posts = 100000, minutes = 1440 }]' if quotas else "[]"
    facebook_quotas = "" if quotas else "quotas = []\n"  # else Facebook's default
    database = f'[database]\nurl = "{database_url}"\n' if database_url else ""
    officer = ('name = "R. K. Yadav"\ndesignation = "Assistant Director"\n'
               'email = "marketing.hr@indiapost.gov.in"\nphone = "+91-172-270-0000"')  # fmt: skip
    locales = json.dumps(list(LOCALES))
    return f"""
[organisation]
name = "Department of Posts"
directorate = "directorate"

[paths]
queue = "var/queue"
state = "var/state"
templates = "{REPO / "templates"}"

{database}[intake]
settle_seconds = 0.5
poll_seconds = {poll_seconds}

[dispatch]
lease_seconds = {lease_seconds}
retry_base_seconds = 1
retry_max_seconds = 2

[credentials]
file = "{secrets}"

[platforms.x]
api_base_url = "{x.url}"
timeout_seconds = 10
quotas = {burst}  # kills leave attempts counted
[platforms.facebook]
api_base_url = "{graph.url}"
timeout_seconds = 10
{facebook_quotas}[platforms.instagram]
api_base_url = "{graph.url}"
timeout_seconds = 10
media_base_url = "https://media.example.gov.in/queue"
container_poll_seconds = 0
quotas = {burst}  # the fake takes a burst
[platforms.email]
host = "{smtp.host}"
port = {smtp.port}
security = "starttls"
ca_file = "{smtp.cert_path}"
sender = "socialmedia@indiapost.gov.in"
timeout_seconds = 10

[units.directorate]
name = "Directorate, Marketing Division"
[units.directorate.nodal_officer]
{officer}

[units.{UNIT}]
name = "Haryana Postal Circle"
[units.{UNIT}.nodal_officer]
{officer}
[[units.{UNIT}.accounts]]
platform = "x"
handle = "HaryanaPostal"
platform_id = "{X_USER}"
locales = {locales}
credential = "x-haryana"
[[units.{UNIT}.accounts]]
platform = "facebook"
handle = "HaryanaPostalCircle"
platform_id = "{PAGE}"
locales = {locales}
credential = "facebook-haryana"
[[units.{UNIT}.accounts]]
platform = "instagram"
handle = "haryanapostalcircle"
platform_id = "{IG_USER}"
locales = {locales}
credential = "instagram-haryana"
[[units.{UNIT}.accounts]]
platform = "email"
handle = "marketing"
locales = {locales}
recipients = ["ddgmarketing@indiapost.gov.in"]
credential = "email-haryana"
"""


@contextmanager
def fake_platforms(
    folder: Path,
    *,
    lease_seconds: float = 300,
    poll_seconds: float = 0.5,
    database_url: str | None = None,
    quotas: bool = True,
) -> Iterator[Platforms]:
    """The fakes started, the Haryana accounts registered with them, ``folder/config.toml`` and
    its secrets file (mode 600) written; the fakes stop when the block ends. ``database_url``
    and ``quotas``: as ``config_text`` takes them."""
    with ExitStack() as stack:
        x = stack.enter_context(FakeX())
        graph = stack.enter_context(FakeGraph())
        user, password = SECRETS["email-haryana"].values()
        smtp = stack.enter_context(FakeSMTP(starttls=True, user=user, password=password))
        x.add_user(X_USER, "HaryanaPostal", *SECRETS["x-haryana"].values())
        graph.add_page(
            PAGE, "Haryana Postal Circle", SECRETS["facebook-haryana"]["page_access_token"]
        )
        graph.add_instagram(
            IG_USER, "haryanapostalcircle", SECRETS["instagram-haryana"]["access_token"]
        )
        graph.ig_quota_total = 100_000  # the burst tests post far more than 50 a day
        secrets = folder / "secrets.toml"
        secrets.write_text(
            "".join(
                f"[{name}]\n" + "".join(f'{k} = "{v}"\n' for k, v in fields.items())
                for name, fields in SECRETS.items()
            ),
            encoding="utf-8",
        )
        secrets.chmod(0o600)
        platforms = Platforms(x, graph, smtp, folder / "config.toml")
        platforms.config.write_text(
            config_text(
                platforms,
                secrets,
                lease_seconds=lease_seconds,
                poll_seconds=poll_seconds,
                database_url=database_url,
                quotas=quotas,
            ),
            encoding="utf-8",
        )
        yield platforms


def post_file(n: int, photo: str, head: str = "") -> str:
    """Post number ``n``: its own text in Hindi and English (X refuses a repeated text) and one
    photo (Instagram needs one) described in both languages; ``head``: settings before them."""
    return (
        f"{head}[text]\n"
        f'hi = "हरियाणा डाक परिमंडल, सूचना {n}: नई डाक टिकट श्रृंखला हर प्रधान डाकघर में उपलब्ध है।"\n'
        f'en = "Haryana Postal Circle, notice {n}: the new stamp series is on sale at every head '
        'post office."\n\n'
        f'[[media]]\nfile = "{photo}"\n'
        'alt = { hi = "मोर का डाक टिकट", en = "A stamp showing a peacock" }\n'
    )


PHOTO = b"\x89PNG\r\n\x1a\n" + bytes(64)


def drop_post(queue: Path, n: int, *, rename: bool = True, head: str = "") -> Path:
    """Drop post ``n`` and its photo into the unit folder: the photo first, then the post file,
    written under a temporary name and renamed into place (``rename``), as a careful writer
    does, or written and closed in place."""
    folder = queue / UNIT
    folder.mkdir(parents=True, exist_ok=True)
    photo = folder / f"stamp-{n}.png"
    photo.write_bytes(PHOTO)
    past = time.time() - 60  # copied in a while ago: complete, whatever the settle interval
    os.utime(photo, (past, past))
    path = folder / f"notice-{n}.toml"
    if rename:
        part = folder / f".notice-{n}.toml.part"
        part.write_text(post_file(n, photo.name, head), encoding="utf-8")
        part.rename(path)
    else:
        with path.open("w", encoding="utf-8") as f:
            f.write(post_file(n, photo.name, head))
    return path
