"""A dropped post file becomes recorded deliveries: real files, a real queue folder, real SQLite."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from publisher.config.settings import Settings
from publisher.intake.officer_files import receipt_text
from publisher.intake.queue import Intake
from publisher.service.engine import Engine
from publisher.store.audit import verify
from publisher.store.db import Ledger, make_engine
from publisher.store.models import AuditEntry, Delivery, Post
from publisher.vocabulary import DeliveryStatus
from tests.support.clock import FakeClock
from tests.support.files import Drop, touch

PONGAL = """\
id = "pongal-2026"
[text]
ta = "பொங்கல் நல்வாழ்த்துகள்! சிறப்பு அஞ்சல் உறை இன்று வெளியிடப்பட்டது."
en = "Happy Pongal! A special cover was released today."
"""


def deliveries(engine: Engine) -> list[Delivery]:
    with engine.ledger() as session:
        return list(session.scalars(select(Delivery).order_by(Delivery.id)))


def test_good_file_yields_one_delivery_per_account_and_locale(engine: Engine, drop: Drop) -> None:
    drop("tamil-nadu", "pongal.toml", PONGAL)
    engine.intake.scan()

    got = {(d.account, d.locale): d for d in deliveries(engine)}
    # Tamil Nadu: X and Facebook post in ta and en, Instagram in ta only.
    assert set(got) == {
        ("x:TNPostalCircle", "ta"),
        ("x:TNPostalCircle", "en"),
        ("facebook:TamilNaduPostalCircle", "ta"),
        ("facebook:TamilNaduPostalCircle", "en"),
        ("instagram:tnpostalcircle", "ta"),
    }
    x_ta = got["x:TNPostalCircle", "ta"]
    assert x_ta.text.startswith("பொங்கல் நல்வாழ்த்துகள்!")
    assert x_ta.status == DeliveryStatus.PENDING
    # The mandatory tags, in the platform's handles: directorate first, then the other circles.
    assert x_ta.tags[:4] == [
        "IndiaPostOffice",
        "HaryanaPostal",
        "WBPostalCircle",
        "MahaPostalCircle",
    ]
    assert "TNPostalCircle" not in x_ta.tags  # never tags itself
    assert x_ta.text.endswith(" ".join("@" + t for t in x_ta.tags))
    assert got["facebook:TamilNaduPostalCircle", "en"].tags[0] == "PostOffice.IN"
    assert got["x:TNPostalCircle", "en"].text.startswith("Happy Pongal!")


def test_accepted_file_is_archived_with_a_receipt(engine: Engine, drop: Drop, settings) -> None:
    drop("tamil-nadu", "pongal.toml", PONGAL)
    engine.intake.scan()

    folder = settings.paths.queue / "tamil-nadu"
    assert not (folder / "pongal.toml").exists()
    [archived] = (folder / "archive").glob("*/pongal.toml")
    receipt = (archived.parent / "pongal.receipt.txt").read_text(encoding="utf-8")
    assert "tamil-nadu/pongal-2026" in receipt
    assert "Deliveries (5)" in receipt
    assert "instagram:tnpostalcircle" in receipt
    assert list((folder / "processing" / engine.intake.host).iterdir()) == []


def test_receipt_is_what_the_ledger_holds(
    engine: Engine, drop: Drop, settings, clock: FakeClock
) -> None:
    """Intake writes a receipt from what it has just recorded, without reading it back: word for
    word the receipt that the ledger's rows give, as a later refresh writes it."""
    at = (clock() + timedelta(days=2)).astimezone(settings.zone).replace(hour=18, minute=45)
    drop("tamil-nadu", "pongal.toml", PONGAL)
    drop(
        "directorate",
        "urgent.toml",
        f'units = ["all"]\nplatforms = ["x"]\npriority = "urgent"\n'
        f'publish_at = "{at:%Y-%m-%d %H:%M}"\n' + PONGAL.replace("pongal-2026", "urgent"),
    )
    assert sorted(r.outcome for r in engine.intake.scan()) == ["accepted", "accepted"]

    with engine.ledger() as session:
        posts = session.scalars(select(Post).options(selectinload(Post.deliveries))).all()
    assert sorted(len(p.deliveries) for p in posts) == [5, 6]
    for post in posts:
        [written] = (settings.paths.queue / post.unit / "archive").glob("*/*.receipt.txt")
        assert written.read_text(encoding="utf-8") == receipt_text(post, settings.zone)
    urgent = next(p for p in posts if p.unit == "directorate")
    assert f"Publish at: {at:%Y-%m-%d} 18:45 IST  (urgent)" in receipt_text(urgent, settings.zone)


def test_same_id_dropped_twice_is_recorded_once(engine: Engine, drop: Drop, settings) -> None:
    drop("tamil-nadu", "pongal.toml", PONGAL)
    engine.tick()
    first = len(deliveries(engine))

    drop("tamil-nadu", "pongal-again.toml", PONGAL)  # the officer copies it in a second time
    [result] = engine.intake.scan()

    assert result.outcome == "duplicate"
    assert len(deliveries(engine)) == first == 5
    [receipt] = (settings.paths.queue / "tamil-nadu" / "archive").glob("*/pongal-again.receipt.txt")
    assert "it was not published again" in receipt.read_text(encoding="utf-8")


def test_same_id_with_new_content_is_rejected_not_merged(
    engine: Engine, drop: Drop, settings
) -> None:
    drop("tamil-nadu", "pongal.toml", PONGAL)
    engine.intake.scan()
    drop("tamil-nadu", "pongal-v2.toml", PONGAL.replace("Happy Pongal!", "Pongal greetings!"))
    [result] = engine.intake.scan()

    assert result.outcome == "rejected"
    error = (settings.paths.queue / "tamil-nadu/rejected/pongal-v2.toml.error.txt").read_text(
        encoding="utf-8"
    )
    assert "a different post with id 'pongal-2026' was already received" in error
    assert "Give this post a new id" in error
    assert len(deliveries(engine)) == 5


def test_without_an_id_the_same_content_is_one_post(engine: Engine, drop: Drop) -> None:
    text = PONGAL.replace('id = "pongal-2026"\n', "")
    drop("tamil-nadu", "a.toml", text)
    drop("tamil-nadu", "b.toml", text)
    outcomes = sorted(r.outcome for r in engine.intake.scan())
    assert outcomes == ["accepted", "duplicate"]
    assert len(deliveries(engine)) == 5


def test_copies_in_one_pass_hold_back_none_of_the_other_files(
    engine: Engine, drop: Drop, settings
) -> None:
    """The files of one pass are recorded in one transaction. Two copies of one post, or a new
    version of another under the same id, make it fail; each post is then recorded on its own:
    the good files are accepted, the copy is a duplicate, the new version is rejected, and the
    audit log has a row for each post, its chain intact."""
    no_id = PONGAL.replace('id = "pongal-2026"\n', "")
    drop("tamil-nadu", "a.toml", PONGAL.replace("pongal-2026", "pongal-a"))
    drop("tamil-nadu", "b.toml", no_id)
    drop("tamil-nadu", "c.toml", no_id)  # b copied in a second time
    drop("tamil-nadu", "d.toml", PONGAL)
    drop("tamil-nadu", "e.toml", PONGAL.replace("Happy Pongal!", "Pongal greetings!"))  # d's id
    drop("tamil-nadu", "f.toml", PONGAL.replace("pongal-2026", "pongal-f"))

    results = {r.name: r.outcome for r in engine.intake.scan()}

    assert results == {
        "a.toml": "accepted",
        "b.toml": "accepted",
        "c.toml": "duplicate",
        "d.toml": "accepted",
        "e.toml": "rejected",
        "f.toml": "accepted",
    }
    assert len(deliveries(engine)) == 4 * 5
    folder = settings.paths.queue / "tamil-nadu"
    receipts = sorted(p.name for p in folder.glob("archive/*/*.receipt.txt"))
    assert receipts == [f"{n}.receipt.txt" for n in "abcdf"]
    error = (folder / "rejected/e.toml.error.txt").read_text(encoding="utf-8")
    assert "a different post with id 'pongal-2026' was already received" in error
    assert verify(engine.ledger).problem is None
    with engine.ledger() as session:
        accepted = session.scalars(select(AuditEntry).where(AuditEntry.action == "post.accept"))
        assert sorted(row.detail for row in accepted) == sorted(
            f'{{"deliveries":5,"file":"{post.source_name}","key":"{post.key}"}}'
            for post in session.scalars(select(Post))
        )


def test_files_of_one_pass_with_one_stem_get_an_archive_folder_each(
    engine: Engine, drop: Drop, settings
) -> None:
    """Archive folders are named before the pass's posts are recorded and made after: two
    files whose names differ only in the case of their suffix get a folder and receipt each."""
    drop("tamil-nadu", "pongal.toml", PONGAL)
    drop("tamil-nadu", "pongal.TOML", PONGAL.replace("pongal-2026", "pongal-again"))

    assert sorted(r.outcome for r in engine.intake.scan()) == ["accepted", "accepted"]

    with engine.ledger() as session:
        posts = session.scalars(select(Post)).all()
    assert len({post.archive_path for post in posts}) == 2
    for post in posts:
        assert post.archive_path is not None
        archived = settings.paths.queue / post.archive_path
        assert {p.name for p in archived.iterdir()} == {post.source_name, "pongal.receipt.txt"}
        assert post.key in (archived / "pongal.receipt.txt").read_text(encoding="utf-8")


def test_half_written_file_waits_until_it_settles(
    engine: Engine, drop: Drop, clock: FakeClock, settings
) -> None:
    path = drop("tamil-nadu", "pongal.toml", PONGAL[:60], settled=False)  # still being copied
    assert engine.intake.scan() == []
    clock.advance(seconds=1)
    with path.open("a", encoding="utf-8") as f:
        f.write(PONGAL[60:])  # the copy goes on; size and mtime change
    touch(path, clock())
    assert engine.intake.scan() == []
    clock.advance(seconds=1.5)
    assert engine.intake.scan() == []  # unchanged for 1.5 s only; the interval is 2 s
    clock.advance(seconds=1)
    [result] = engine.intake.scan()
    assert result.outcome == "accepted"
    assert not list((settings.paths.queue / "tamil-nadu" / "rejected").iterdir())


@pytest.mark.parametrize(
    "name", [".pongal.toml", "pongal.toml.tmp", "pongal.toml.part", "~pongal.toml", "pongal.txt"]
)
def test_temporary_and_hidden_names_are_left_alone(engine: Engine, drop: Drop, name: str) -> None:
    path = drop("tamil-nadu", name, PONGAL)
    assert engine.intake.scan() == []
    assert path.exists()


def test_media_moves_with_the_post_and_deliveries_point_at_it(
    engine: Engine, drop: Drop, settings
) -> None:
    drop("tamil-nadu", "cover.jpg", b"\xff\xd8\xff\xe0 a photo")
    drop(
        "tamil-nadu",
        "pongal.toml",
        PONGAL
        + '[[media]]\nfile = "cover.jpg"\nalt = { ta = "அஞ்சல் உறை", en = "A postal cover" }\n',
    )
    engine.intake.scan()

    queue = settings.paths.queue
    assert not (queue / "tamil-nadu" / "cover.jpg").exists()
    for d in deliveries(engine):
        [media] = d.media
        assert (queue / media["path"]).read_bytes() == b"\xff\xd8\xff\xe0 a photo"
        assert media["alt"] == {"ta": "அஞ்சல் உறை", "en": "A postal cover"}[d.locale]


def test_a_photo_two_files_of_one_pass_name_goes_with_the_first_and_the_second_waits(
    engine: Engine, drop: Drop, settings
) -> None:
    """The files of a pass are checked before any is archived: both find the photo, but it can
    move to one archive only. The second post must not be recorded pointing at a photo that is
    not there (it could never be sent): it waits for its photo, as one dropped later would."""
    drop("tamil-nadu", "cover.jpg", b"photo")
    photo = '[[media]]\nfile = "cover.jpg"\nalt = { ta = "உறை", en = "A cover" }\n'
    drop("tamil-nadu", "a.toml", PONGAL.replace("pongal-2026", "a") + photo)
    drop("tamil-nadu", "b.toml", PONGAL.replace("pongal-2026", "b") + photo)
    results = {r.name: r.outcome for r in engine.intake.scan()}
    assert results == {"a.toml": "accepted", "b.toml": "waiting"}
    queue = settings.paths.queue
    assert (queue / "tamil-nadu" / "b.toml").exists()  # back in the unit folder, to wait
    assert {queue / d.media[0]["path"] for d in deliveries(engine)} == {
        queue / "tamil-nadu" / "archive" / f"{engine.clock().astimezone(settings.zone):%Y-%m-%d}_a"
        / "cover.jpg"
    }  # fmt: skip
    assert all((queue / d.media[0]["path"]).exists() for d in deliveries(engine))


def test_post_waits_for_media_still_arriving_then_goes(
    engine: Engine, drop: Drop, clock: FakeClock
) -> None:
    drop(
        "tamil-nadu",
        "pongal.toml",
        PONGAL
        + '[[media]]\nfile = "cover.jpg"\nalt = { ta = "அஞ்சல் உறை", en = "A postal cover" }\n',
    )
    [result] = engine.intake.scan()
    assert result.outcome == "waiting"
    drop("tamil-nadu", "cover.jpg", b"photo")
    [result] = engine.intake.scan()
    assert result.outcome == "accepted"


def test_post_whose_media_never_comes_is_rejected_after_the_bound(
    engine: Engine, drop: Drop, clock: FakeClock, settings
) -> None:
    drop(
        "tamil-nadu",
        "pongal.toml",
        PONGAL
        + '[[media]]\nfile = "cover.jpg"\nalt = { ta = "அஞ்சல் உறை", en = "A postal cover" }\n',
    )
    engine.intake.scan()
    clock.advance(minutes=31)
    [result] = engine.intake.scan()
    assert result.outcome == "rejected"
    error = (settings.paths.queue / "tamil-nadu/rejected/pongal.toml.error.txt").read_text("utf-8")
    assert "cover.jpg did not arrive within 30 minutes" in error


def test_crash_between_commit_and_archive_is_finished_without_a_second_post(
    engine: Engine, drop: Drop, settings, clock: FakeClock
) -> None:
    """The ledger has the post, but the file never left processing/<host>/ (the process died)."""
    drop("tamil-nadu", "pongal.toml", PONGAL)
    engine.intake.scan()
    folder = settings.paths.queue / "tamil-nadu"
    [archived] = (folder / "archive").glob("*/pongal.toml")
    # Put the world back as the crash left it: the file in processing/<host>/, no archive folder.
    archived.rename(folder / "processing" / engine.intake.host / "pongal.toml")
    for leftover in archived.parent.iterdir():
        leftover.unlink()
    archived.parent.rmdir()

    restarted = Engine(settings, dry_run=True, clock=clock).start()  # prepare() puts it back
    [result] = restarted.intake.scan()

    assert result.outcome == "accepted"
    assert len(deliveries(restarted)) == 5
    with restarted.ledger() as session:
        assert session.scalar(select(func.count()).select_from(Post)) == 1
        post = session.scalars(select(Post)).one()
    assert (settings.paths.queue / post.archive_path / "pongal.toml").exists()


def test_directorate_posts_for_every_unit(engine: Engine, drop: Drop) -> None:
    drop(
        "directorate",
        "clarification.toml",
        """\
units = ["all"]
platforms = ["x"]
priority = "urgent"
template = "fake-news-clarification"
[vars]
platform = "WhatsApp"
url = "www.indiapost.gov.in"
""",
    )
    engine.intake.scan()
    got = {(d.account, d.locale) for d in deliveries(engine)}
    assert ("x:IndiaPostOffice", "hi") in got
    assert ("x:TNPostalCircle", "ta") in got
    assert ("x:WBPostalCircle", "bn") in got
    assert ("x:MahaPostalCircle", "mr") in got
    assert len(got) == 10  # five X accounts, two locales each
    assert all(d.priority > 0 for d in deliveries(engine))


def test_template_renders_in_each_accounts_language(engine: Engine, drop: Drop) -> None:
    drop(
        "haryana",
        "sukanya.toml",
        """\
template = "savings-scheme"
platforms = ["x"]
[vars]
scheme = "Sukanya Samriddhi Yojana"
rate = 8.2
min_deposit = 250
""",
    )
    engine.intake.scan()
    texts = {d.locale: d.text for d in deliveries(engine)}
    assert set(texts) == {"hi", "en"}
    assert "₹250" in texts["hi"]
    assert "8.2%" in texts["hi"]
    assert "डाकघर" in texts["hi"]  # post office, from the Hindi catalog
    assert "post office" in texts["en"]


def test_status_file_lists_recent_posts_for_the_officer(
    engine: Engine, drop: Drop, settings
) -> None:
    drop("tamil-nadu", "pongal.toml", PONGAL)
    engine.tick()
    status = (settings.paths.queue / "tamil-nadu" / "STATUS.txt").read_text(encoding="utf-8")
    assert "pongal.toml" in status
    assert "5 dry_run" in status


def test_leftover_in_processing_is_put_back_at_start(engine: Engine, settings, clock) -> None:
    left = settings.paths.queue / "haryana" / "processing" / engine.intake.host / "note.toml"
    left.write_text("x", encoding="utf-8")
    Engine(settings, dry_run=True, clock=clock).start()
    assert (settings.paths.queue / "haryana" / "note.toml").exists()
    assert not left.exists()


def test_files_wait_in_the_queue_while_the_ledger_cannot_be_reached(
    engine: Engine, drop: Drop, settings, clock
) -> None:
    """A database restarting or failing over is no fault of the officers' files: they are not
    rejected (the officer would have to copy them again) but left where they are, and taken once
    the ledger answers again. Here the ledger is a PostgreSQL server nobody listens for."""
    drop("tamil-nadu", "pongal.toml", PONGAL)
    drop("tamil-nadu", "other.toml", PONGAL.replace("pongal-2026", "other"))
    down = Ledger(make_engine("postgresql+psycopg://postgres@127.0.0.1:9/none"))
    cut_off = Intake(settings, engine.intake.renderer, down, clock, engine.intake.host)
    assert cut_off.scan() == []
    unit = settings.paths.queue / "tamil-nadu"
    assert sorted(p.name for p in unit.glob("*.toml")) == ["other.toml", "pongal.toml"]
    assert list((unit / "rejected").iterdir()) == []
    assert [r.outcome for r in engine.intake.scan()] == ["accepted", "accepted"]


def test_unit_folders_are_created(engine: Engine, settings) -> None:
    for unit in settings.units:
        for sub in ("processing", "archive", "rejected"):
            assert Path(settings.paths.queue / unit / sub).is_dir()


def test_a_file_taken_on_its_close_event_that_does_not_parse_waits_to_settle(
    engine: Engine, drop: Drop, clock: FakeClock, settings
) -> None:
    """The writer closed it once, but may write more (some editors save in two goes)."""
    path = drop("tamil-nadu", "pongal.toml", PONGAL[:40], settled=False)
    engine.intake.settler.closed(path)
    [result] = engine.intake.scan()
    assert result.outcome == "waiting"
    assert path.exists()
    assert not list((settings.paths.queue / "tamil-nadu" / "rejected").iterdir())
    clock.advance(seconds=3)  # settled now, and still broken: a rejection, with the note
    [result] = engine.intake.scan()
    assert result.outcome == "rejected"


def test_a_file_taken_on_its_close_event_goes_at_once(engine: Engine, drop: Drop) -> None:
    path = drop("tamil-nadu", "pongal.toml", PONGAL, settled=False)
    assert engine.intake.scan() == []  # not settled, no event
    engine.intake.settler.closed(path)
    [result] = engine.intake.scan()
    assert result.outcome == "accepted"


def test_crash_after_the_photo_moved_is_finished_not_rejected(
    engine: Engine, drop: Drop, settings, clock: FakeClock
) -> None:
    """The photo reached archive/, the post file did not: the restart finishes the move."""
    drop("tamil-nadu", "cover.jpg", b"photo")
    drop(
        "tamil-nadu",
        "pongal.toml",
        PONGAL + '[[media]]\nfile = "cover.jpg"\nalt = { ta = "உறை", en = "A cover" }\n',
    )
    engine.intake.scan()
    folder = settings.paths.queue / "tamil-nadu"
    [archived] = (folder / "archive").glob("*/pongal.toml")
    archived.rename(folder / "processing" / engine.intake.host / "pongal.toml")  # never moved
    (archived.parent / "pongal.receipt.txt").unlink()

    restarted = Engine(settings, dry_run=True, clock=clock).start()
    [result] = restarted.intake.scan()

    assert result.outcome == "duplicate"  # recorded already: never rejected
    assert not list((folder / "rejected").iterdir())
    assert len(deliveries(restarted)) == 5
    assert all((settings.paths.queue / d.media[0]["path"]).exists() for d in deliveries(restarted))


def test_a_leftover_in_processing_never_overwrites_a_new_file_of_the_same_name(
    engine: Engine, drop: Drop, settings, clock: FakeClock
) -> None:
    left = settings.paths.queue / "tamil-nadu" / "processing" / engine.intake.host / "pongal.toml"
    left.write_text(PONGAL, encoding="utf-8")
    touch(left, clock() - timedelta(minutes=5))
    drop("tamil-nadu", "pongal.toml", PONGAL.replace("pongal-2026", "pongal-2027"))
    restarted = Engine(settings, dry_run=True, clock=clock).start()
    taken = restarted.intake.scan()
    assert sorted(r.outcome for r in taken) == ["accepted", "accepted"]
    with restarted.ledger() as session:
        keys = sorted(session.scalars(select(Post.key)))
    assert keys == ["tamil-nadu/pongal-2026", "tamil-nadu/pongal-2027"]


def test_the_photo_wait_counts_from_when_the_post_was_seen_not_its_mtime(
    engine: Engine, drop: Drop, clock: FakeClock
) -> None:
    """Copies that keep the original timestamp (cp -p, WinSCP) must not be rejected at once."""
    path = drop(
        "tamil-nadu",
        "pongal.toml",
        PONGAL + '[[media]]\nfile = "cover.jpg"\nalt = { ta = "உறை", en = "A cover" }\n',
    )
    old = (clock() - timedelta(hours=2)).timestamp()
    os.utime(path, (old, old))
    [result] = engine.intake.scan()
    assert result.outcome == "waiting"
    clock.advance(minutes=29)
    [result] = engine.intake.scan()
    assert result.outcome == "waiting"
    clock.advance(minutes=2)
    [result] = engine.intake.scan()
    assert result.outcome == "rejected"


def test_a_photo_named_in_another_unicode_form_or_case_is_found(engine: Engine, drop: Drop) -> None:
    drop("tamil-nadu", "Cafe\u0301.JPG", b"photo")  # decomposed é, upper-case suffix, as on disk
    drop(
        "tamil-nadu",
        "p.toml",
        PONGAL + '[[media]]\nfile = "caf\u00e9.jpg"\nalt = { ta = "உறை", en = "A cover" }\n',
    )
    [result] = engine.intake.scan()
    assert result.outcome == "accepted"


@pytest.mark.parametrize("name", ["POST.TOML", "post.toml.txt"])
def test_names_windows_gives_post_files_are_taken(engine: Engine, drop: Drop, name: str) -> None:
    drop("tamil-nadu", name, PONGAL)
    [result] = engine.intake.scan()
    assert result.outcome == "accepted"


def test_a_pass_writes_each_receipt_once_and_the_units_status(
    engine: Engine, drop: Drop, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Intake writes the receipt of a file it takes; the pass then rewrites only the unit's
    STATUS.txt, not the receipt a second time."""
    written: list[str] = []
    replace = Path.replace

    def counted(self: Path, target: Path) -> Path:
        written.append(Path(target).name)
        return replace(self, target)

    monkeypatch.setattr(Path, "replace", counted)
    drop("tamil-nadu", "pongal.toml", PONGAL)
    engine.take()
    assert written.count("pongal.receipt.txt") == 1
    assert written.count("STATUS.txt") == 1
    assert "pongal.toml" in (settings.paths.queue / "tamil-nadu" / "STATUS.txt").read_text("utf-8")
