"""The national rehearsal: the directorate posts each shipped template to all 23 circles, dry-run.
Every account gets the message in each of its languages, in that language's script, never the
same text twice; every X part fits 280 as twitter-text weighs it; Instagram mentions stay under 20.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from twitter_text import parse_tweet

from publisher.config.settings import load_settings
from publisher.planning.fit import MENTION
from publisher.scripts import wrong_script
from publisher.service.engine import Engine
from publisher.store.models import Delivery, Post
from tests.planning.test_golden import VARS
from tests.support.clock import FakeClock
from tests.support.files import touch
from tests.support.national import CIRCLES, national_config


@pytest.mark.parametrize("template", sorted(VARS))
def test_each_template_reaches_every_circle_in_its_languages(
    tmp_path: Path, clock: FakeClock, template: str
) -> None:
    settings = load_settings(national_config(tmp_path))
    engine = Engine(settings, dry_run=True, clock=clock).start()
    path = settings.paths.queue / "directorate" / "national.toml"
    path.write_text(f'units = ["all"]\ntemplate = "{template}"\n[vars]\n{VARS[template]}', "utf-8")
    touch(path, clock() - timedelta(minutes=1))  # settled
    engine.tick()
    with engine.ledger() as session:
        [recorded] = session.scalars(select(Post)).all()
        rows = session.scalars(select(Delivery)).all()
    assert recorded.notes == []  # nothing skipped
    expected = Counter({"en": 3 * 24, "hi": 3})  # every account posts in English; the directorate
    for languages in CIRCLES.values():  # also in Hindi
        expected.update(dict.fromkeys(languages, 3))
    assert Counter(d.locale for d in rows) == expected
    assert len(rows) == sum(expected.values())
    texts = Counter((d.account, d.text) for d in rows)
    assert max(texts.values()) == 1  # never two deliveries with the same text on one account
    for d in rows:
        assert wrong_script(d.text, d.locale) is None, (d.account, d.locale, d.text)
        for part in d.parts:
            if d.platform == "x":
                assert parse_tweet(part["text"]).weightedLength <= 280, part
            if d.platform == "instagram":
                assert len(MENTION.findall(part["text"])) <= 20, part
    by_account = Counter(d.account for d in rows)
    assert set(by_account) == {a.key for _, a in settings.accounts()}
