"""Amplification rules and records: what config.toml accepts, who amplifies whom, what dry-run,
review and status show, and that recording amplifications twice makes nothing twice."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import func, select, text

from publisher.adapters.registry import load_config
from publisher.config.settings import Settings, load_settings
from publisher.errors import ConfigError
from publisher.oversight.review import queued, review_text, status_text
from publisher.planning.amplify import amplify_plan
from publisher.service.engine import Engine
from publisher.store.amplifications import record_amplifications
from publisher.store.db import make_engine, upgrade
from publisher.store.ledger import resolve
from publisher.store.models import Delivery
from publisher.vocabulary import DeliveryStatus
from tests.support.clock import FakeClock
from tests.support.files import REPO, Drop
from tests.support.processes import publisher

CIRCLES = ["tamil-nadu", "haryana", "west-bengal", "maharashtra"]
EXAMPLE = (REPO / "config.toml").read_text(encoding="utf-8")
POST = (
    'platforms = ["x"]\nlocales = ["en", "hi"]\n[text]\nen = "Sunday delivery."\nhi = "रविवार।"\n'
)


def with_rules(config_path: Path, rules: str) -> Settings:
    config_path.write_text(config_path.read_text(encoding="utf-8") + rules, encoding="utf-8")
    return load_settings(config_path)


def rule(sources: str, targets: str, platforms: str, extra: str = "") -> str:
    return (
        f"\n[[amplify]]\nsources = {sources}\ntargets = {targets}\nplatforms = {platforms}\n{extra}"
    )


def problems(tmp_path: Path, rules: str) -> list[str]:
    path = tmp_path / "config.toml"
    path.write_text(EXAMPLE + rules, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    return [str(p) for p in err.value.problems]


@pytest.mark.parametrize(
    ("rules", "expected"),
    [
        (
            rule('["directorate"]', '["tamilnadu"]', '["x"]'),
            "amplify[0].targets: 'tamilnadu' is not a unit. Name units from: directorate, "
            "tamil-nadu, haryana, west-bengal, maharashtra, all",
        ),
        (
            rule('["directorate"]', '["all"]', '["x"]') + rule('["hq"]', '["all"]', '["x"]'),
            "amplify[1].sources: 'hq' is not a unit",
        ),
        (
            rule('["directorate"]', '["all"]', '["x", "instagram"]'),
            "amplify[0].platforms: instagram posts cannot be retweeted or shared by another "
            "account. Remove 'instagram': amplification works on x (retweet), facebook (share)",
        ),
        (
            rule('["directorate"]', '["all"]', '["email"]'),
            "amplify[0].platforms: email posts cannot be retweeted or shared",
        ),
        (rule('["directorate"]', '["all"]', '["koo"]'), "amplify[0].platforms[0]"),
        (rule('["directorate"]', "[]", '["x"]'), "amplify[0].targets"),
        (
            rule('["directorate"]', '["all"]', '["x"]', "counts_for_freshness = 'yes'\n"),
            "amplify[0].counts_for_freshness",
        ),
        (rule('["directorate"]', '["all"]', '["x"]', "retweet = true\n"), "amplify[0].retweet"),
    ],
)
def test_a_bad_rule_stops_start_up_naming_it_and_the_fix(
    tmp_path: Path, rules: str, expected: str
) -> None:
    assert any(expected in p for p in problems(tmp_path, rules))


def test_every_circle_amplifies_the_directorate_and_a_unit_never_itself(
    config_path: Path,
) -> None:
    settings = with_rules(
        config_path, rule('["directorate"]', '["directorate", "haryana"]', '["x", "facebook"]')
    )
    plan = amplify_plan(settings)
    assert set(plan) == {"x:IndiaPostOffice", "facebook:PostOffice.IN"}
    [x] = plan["x:IndiaPostOffice"]
    assert (x.account, x.kind, x.counts_for_freshness) == ("x:HaryanaPostal", "retweet", False)
    [fb] = plan["facebook:PostOffice.IN"]
    assert (fb.account, fb.kind) == ("facebook:HaryanaPostalCircle", "share")


def test_circle_to_circle_and_overlapping_rules(config_path: Path) -> None:
    settings = with_rules(
        config_path,
        rule('["all"]', '["all"]', '["x"]')
        + rule('["directorate"]', '["haryana"]', '["x"]', "counts_for_freshness = true\n"),
    )
    plan = amplify_plan(settings)
    assert len(plan) == 5  # every X account is a source
    for source, targets in plan.items():
        keys = [t.account for t in targets]
        assert len(keys) == 4 and source not in keys
    counts = {t.account: t.counts_for_freshness for t in plan["x:IndiaPostOffice"]}
    assert counts == {
        "x:TNPostalCircle": False,
        "x:HaryanaPostal": True,  # one of the two rules says so
        "x:WBPostalCircle": False,
        "x:MahaPostalCircle": False,
    }
    assert not any(t.counts_for_freshness for t in plan["x:TNPostalCircle"])


def dry_run(config_path: Path, clock: FakeClock, rules: str) -> Engine:
    return Engine(with_rules(config_path, rules), dry_run=True, clock=clock).start()


def test_dry_run_records_the_amplifications_and_review_shows_them(
    config_path: Path, clock: FakeClock, drop: Drop
) -> None:
    engine = dry_run(config_path, clock, rule('["directorate"]', '["all"]', '["x"]'))
    drop("directorate", "sundays.toml", POST)
    engine.tick()
    with engine.ledger() as session:
        deliveries = list(session.scalars(select(Delivery).order_by(Delivery.id)))
        shown = review_text(deliveries, engine.settings)
    source = deliveries[0]
    retweets = [d for d in deliveries if d.kind == "retweet"]
    assert len(deliveries) == 6  # two languages on the directorate's X, four retweets
    assert {d.status for d in deliveries} == {DeliveryStatus.DRY_RUN}
    assert {d.source_delivery_id for d in retweets} == {source.id}
    for handle in ("TNPostalCircle", "HaryanaPostal", "WBPostalCircle", "MahaPostalCircle"):
        assert f"retweet of x:IndiaPostOffice #{source.id} by x:{handle}" in shown
    assert "      | Sunday delivery.\n" in shown  # the text being retweeted, as it went out


def test_the_dry_run_command_shows_retweets_among_what_would_go_out(
    config_path: Path, clock: FakeClock, drop: Drop
) -> None:
    with_rules(config_path, rule('["directorate"]', '["all"]', '["x", "facebook"]'))
    drop("directorate", "sundays.toml", POST.replace('["x"]', '["x", "facebook"]'))
    run = publisher("run", "--dry-run", "--once", config=config_path)
    assert run.returncode == 0, run.stderr
    assert "12 deliveries recorded as dry-run" in run.stdout  # 2 + 2 posts, 4 retweets, 4 shares
    assert "retweet of x:IndiaPostOffice #1 by x:TNPostalCircle" in run.stdout
    assert "share of facebook:PostOffice.IN #3 by facebook:MaharashtraPostalCircle" in run.stdout


def test_status_counts_amplifications_and_freshness_as_the_rule_says(
    config_path: Path, clock: FakeClock, drop: Drop
) -> None:
    engine = dry_run(
        config_path,
        clock,
        rule('["directorate"]', '["tamil-nadu"]', '["x"]', "counts_for_freshness = true\n")
        + rule('["directorate"]', '["haryana"]', '["x"]'),
    )
    drop("directorate", "sundays.toml", POST)
    engine.tick()
    clock.advance(days=2)
    with engine.ledger() as session:
        table = status_text(session, engine.settings, clock())
    rows = {line.split()[1]: line.split() for line in table.splitlines()[3:] if line.strip()}
    assert rows["x:TNPostalCircle"][-1] == "1"  # amplified
    assert rows["x:HaryanaPostal"][-1] == "1"
    assert "(2d)" in rows["x:TNPostalCircle"]  # its retweet keeps it fresh
    assert "never" in rows["x:HaryanaPostal"]  # its retweet does not


def test_recording_a_sent_post_again_amplifies_nothing_twice(
    config_path: Path, clock: FakeClock, drop: Drop
) -> None:
    engine = dry_run(config_path, clock, rule('["directorate"]', '["all"]', '["x"]'))
    drop("directorate", "sundays.toml", POST)
    engine.tick()
    plan = amplify_plan(engine.settings)
    with engine.ledger.begin() as session:
        english, hindi = session.scalars(
            select(Delivery).where(Delivery.kind == "post").order_by(Delivery.id)
        ).all()
        record_amplifications(session, english, plan)
        record_amplifications(session, hindi, plan)  # another language, same post
    with engine.ledger() as session:
        assert session.scalar(select(func.count()).where(Delivery.kind == "retweet")) == 4


def test_a_person_deciding_a_post_was_published_sets_its_amplifications_going(
    config_path: Path, clock: FakeClock, drop: Drop
) -> None:
    engine = dry_run(config_path, clock, rule('["directorate"]', '["haryana"]', '["x"]'))
    drop("directorate", "sundays.toml", POST.replace('"en", "hi"', '"en"'))
    engine.intake.scan()
    plan = amplify_plan(engine.settings)
    with engine.ledger.begin() as session:
        [source] = session.scalars(select(Delivery)).all()
        source.status = DeliveryStatus.UNCERTAIN
    with engine.ledger.begin() as session:
        resolve(session, source.id, published=True, who="ao", reason="seen", now=clock(),
                remote_id="1862", amplify=plan)  # fmt: skip
    with engine.ledger() as session:
        [retweet] = [d for d in queued(session) if d.kind == "retweet"]
        assert (retweet.account, retweet.source.remote_id) == ("x:HaryanaPostal", "1862")
        assert retweet.not_before <= clock()  # due at once
    engine.tick()
    with engine.ledger() as session:
        assert session.get_one(Delivery, retweet.id).status == DeliveryStatus.DRY_RUN


def test_existing_deliveries_become_posts_that_count_for_freshness(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'ledger.db'}")
    upgrade(engine, "0005")
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO posts (id, key, unit, source_name, source_sha256, priority, "
                "not_before, received_at, request) VALUES (1, 'k', 'u', 'f', 's', 0, "
                "'2026-01-01 00:00:00', '2026-01-01 00:00:00', '{}');"
            )
        )
        connection.execute(
            text(
                "INSERT INTO deliveries (post_id, idempotency_key, unit, account, platform, "
                "locale, text, tags, media, status, priority, not_before, attempts) VALUES "
                "(1, 'k|x:a|en', 'u', 'x:a', 'x', 'en', 't', '[]', '[]', 'sent', 0, "
                "'2026-01-01 00:00:00', 1)"
            )
        )
    upgrade(engine)
    with engine.connect() as connection:
        row = connection.execute(
            text("SELECT kind, source_delivery_id, counts_for_freshness FROM deliveries")
        ).one()
    assert tuple(row) == ("post", None, 1)
    config = Config()  # no helper downgrades: only this test does
    config.set_main_option("script_location", "publisher.store:migrations")
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0005")
        assert connection.execute(text("SELECT count(*) FROM deliveries")).scalar() == 1


def test_the_rules_the_readme_and_config_toml_show_are_valid(config_path: Path) -> None:
    block = EXAMPLE[EXAMPLE.index("# [[amplify]]") :].split("\n\n")[0]
    commented = [line.removeprefix("# ") for line in block.splitlines()]
    path = config_path.parent / "uncommented.toml"
    path.write_text(config_path.read_text(encoding="utf-8") + "\n".join(commented), "utf-8")
    assert len(amplify_plan(load_settings(path))["x:IndiaPostOffice"]) == 4

    readme = (REPO / "README.md").read_text(encoding="utf-8")
    [block] = [b for b in readme.split("```toml\n") if b.startswith("[[amplify]]")]
    plan = amplify_plan(with_rules(config_path, "\n" + block.split("```")[0]))
    directorate = {t.account: t for t in plan["x:IndiaPostOffice"]}
    assert len(directorate) == 4 and not any(t.counts_for_freshness for t in directorate.values())
    assert len(plan["facebook:PostOffice.IN"]) == 4
    assert [t.unit for t in plan["x:TNPostalCircle"]] == ["haryana", "west-bengal", "maharashtra"]
    assert all(t.counts_for_freshness for t in plan["x:TNPostalCircle"])
    assert "facebook:TamilNaduPostalCircle" not in plan
