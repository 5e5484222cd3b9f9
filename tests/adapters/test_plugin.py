"""A platform added by another package, as the README's "Adding a platform" says: one module,
one entry point, and config.toml may name it, with its options. Run as a real subprocess with
the package on its path, so the entry point is found the way pip would install it."""

from __future__ import annotations

import json
import os
from pathlib import Path

from tests.support.processes import publisher

ADAPTER = '''
import json
from publisher.adapters.base import AccountCheck, Adapter
from publisher.config.platforms import PlatformOptions


class OutboxAdapter(Adapter[PlatformOptions]):
    """A toy platform: each post is appended to the file the credential names."""

    platform = "outbox"
    secrets = ("path",)

    def publish(self, delivery):
        line = {"text": delivery.parts[0].text, "timeout": self.options.timeout_seconds}
        with open(self._secrets["path"], "a", encoding="utf-8") as out:
            out.write(json.dumps(line, ensure_ascii=False) + "\\n")
        return Receipt(str(delivery.delivery_id), None, self.clock())

    def find_existing(self, delivery):
        return None

    def metrics(self, receipts):
        return {}

    def check(self):
        return AccountCheck(valid=True, detail="a file")
'''

CONFIG = """
[organisation]
name = "Department of Posts"
directorate = "directorate"

[platforms.outbox]
timeout_seconds = 7

[units.directorate]
name = "Directorate"
[units.directorate.nodal_officer]
name = "A. Sharma"
designation = "ADG"
email = "adg@example.gov.in"
phone = "+91-11-0000-0000"
[[units.directorate.accounts]]
platform = "outbox"
handle = "dakbox"
locales = ["hi"]
credential = "outbox"
"""


def test_a_platform_from_another_package_is_configured_and_published_to(tmp_path: Path) -> None:
    package = _package(
        tmp_path, ADAPTER, "[publisher.adapters]\noutbox = outbox_adapter:OutboxAdapter\n"
    )
    config = tmp_path / "config.toml"
    config.write_text(CONFIG, encoding="utf-8")
    folder = tmp_path / "queue" / "directorate"
    folder.mkdir(parents=True)
    (folder / "notice.toml").write_text('[text]\nhi = "डाक सप्ताह की शुभकामनाएँ"\n', "utf-8")
    os.utime(folder / "notice.toml", (0, 0))  # settled long ago
    outbox = tmp_path / "outbox.jsonl"
    env = {
        **os.environ,
        "PYTHONPATH": str(package),
        "PUBLISHER_CREDENTIAL_OUTBOX": json.dumps({"path": str(outbox)}),
    }

    run = publisher("run", "--once", config=config, env=env)

    assert run.returncode == 0, run.stderr
    assert "1 deliveries sent" in run.stdout
    sent = [json.loads(line) for line in outbox.read_text(encoding="utf-8").splitlines()]
    assert sent == [{"text": "डाक सप्ताह की शुभकामनाएँ", "timeout": 7.0}]


def test_without_its_package_the_platform_is_refused_by_name(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(CONFIG, encoding="utf-8")

    run = publisher("status", config=config)

    assert run.returncode == 1
    assert "units.directorate.accounts[0].platform: 'outbox' is not a platform" in run.stderr
    assert "platforms: 'outbox' is not a platform with an installed adapter" in run.stderr


RULED = (
    ADAPTER.replace(
        "class OutboxAdapter(Adapter[PlatformOptions]):",
        """from publisher.adapters.base import Rules
from publisher.config.platforms import Quota


class OutboxOptions(PlatformOptions):
    label: str = ""


class OutboxAdapter(Adapter[OutboxOptions]):
    options_model = OutboxOptions
    rules = Rules(
        text_limit=60,
        max_mentions=2,
        overflow="comment",
        quotas=(Quota(per="account", posts=1, minutes=1440),),
    )""",
    )
    .replace('"timeout": self.options.timeout_seconds', '"label": self.options.label')
    .replace("from publisher.vocabulary import Receipt", "")
    .replace("import json\n", "import json\nfrom publisher.vocabulary import Receipt\n", 1)
)

TAGGED = (
    CONFIG.replace("timeout_seconds = 7\n", 'timeout_seconds = 7\nlabel = "circular"\n')
    + """
[tags.groups.circles]
handles = { outbox = ["dakghar", "tnpost", "upcircle", "mhcircle"] }
"""
)


def _package(tmp_path: Path, adapter: str, entry_points: str) -> Path:
    package = tmp_path / "site"
    (package / "outbox_adapter-1.0.dist-info").mkdir(parents=True)
    (package / "outbox_adapter.py").write_text(adapter, encoding="utf-8")
    (package / "outbox_adapter-1.0.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: outbox-adapter\nVersion: 1.0\n", encoding="utf-8"
    )
    (package / "outbox_adapter-1.0.dist-info" / "entry_points.txt").write_text(
        entry_points, encoding="utf-8"
    )
    return package


def _drop_posts(root: Path) -> tuple[Path, Path]:
    """A config in ``root`` and three post files in its directorate's folder."""
    config = root / "config.toml"
    root.mkdir()
    config.write_text(TAGGED, encoding="utf-8")
    folder = root / "queue" / "directorate"
    folder.mkdir(parents=True)
    for name, text in (("a", "डाक सप्ताह"), ("b", "नए डाक टिकट"), ("long", "क" * 61)):
        (folder / f"{name}.toml").write_text(f'id = "{name}"\n[text]\nhi = "{text}"\n', "utf-8")
        os.utime(folder / f"{name}.toml", (0, 0))  # settled long ago
    return config, folder


def test_a_platforms_declared_rules_fit_tag_pace_and_rehearse_it_with_no_change_to_the_core(
    tmp_path: Path,
) -> None:
    """The invented platform declares a 60-character limit, two mentions a part, overflow into a
    first comment and one post a day; a second plugin in the same package is broken and unused.
    Planning, the tag policy, dry-run, review and pacing all follow the declaration."""
    package = _package(
        tmp_path,
        RULED,
        "[publisher.adapters]\noutbox = outbox_adapter:OutboxAdapter\n"
        "broken = outbox_adapter:NoSuchClass\n",
    )
    outbox = tmp_path / "outbox.jsonl"
    env = {
        **os.environ,
        "PYTHONPATH": str(package),
        "PUBLISHER_CREDENTIAL_OUTBOX": json.dumps({"path": str(outbox)}),
    }

    config, folder = _drop_posts(tmp_path / "rehearsal")
    rehearsal = publisher("run", "--once", "--dry-run", config=config, env=env)
    assert rehearsal.returncode == 0, rehearsal.stderr
    assert "2 deliveries recorded as dry-run" in rehearsal.stdout
    for post in ("डाक सप्ताह", "नए डाक टिकट"):  # two mentions in the post, the rest in a comment
        assert (
            f"      | {post}\n      |\n      | @dakghar @tnpost\n"
            "        └─ first comment: @upcircle @mhcircle\n"
        ) in rehearsal.stdout
    [note] = (folder / "rejected").glob("long*.error.txt")
    assert "on outbox the message is 61 characters, over the limit of 60" in note.read_text("utf-8")

    config, folder = _drop_posts(tmp_path / "real")
    run = publisher("run", "--once", config=config, env=env)
    assert run.returncode == 0, run.stderr
    sent = [json.loads(line) for line in outbox.read_text(encoding="utf-8").splitlines()]
    assert len(sent) == 1  # one post a day: the other waits for tomorrow
    assert sent[0]["label"] == "circular"  # its own option, read by its own options model
    status = publisher("review", config=config, env=env)
    assert "pending" in status.stdout


def test_a_platforms_own_option_misspelt_stops_start_up_naming_the_key(tmp_path: Path) -> None:
    package = _package(
        tmp_path, RULED, "[publisher.adapters]\noutbox = outbox_adapter:OutboxAdapter\n"
    )
    config = tmp_path / "config.toml"
    config.write_text(TAGGED.replace('label = "circular"', 'lable = "circular"'), "utf-8")
    env = {**os.environ, "PYTHONPATH": str(package)}
    run = publisher("validate", str(config), config=config, env=env)
    assert run.returncode == 1
    assert "platforms.outbox.lable: 'lable' is not a key this file knows" in run.stdout
    assert "Did you mean 'label'?" in run.stdout
