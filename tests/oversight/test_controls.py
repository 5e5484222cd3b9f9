"""Operators' controls: pause and resume, blackout windows, the approval gate, retry and cancel.
Each holds back or releases real deliveries in a real ledger, and is recorded with who and why."""

from __future__ import annotations

import getpass
import json
import os
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from publisher.config.settings import load_settings
from publisher.dispatch.holds import Scope, held
from publisher.errors import PermanentError, PublisherError
from publisher.oversight.controls import (
    approve,
    cancel_delivery,
    cancel_post,
    holds_text,
    pause,
    resume,
    retry,
)
from publisher.oversight.freshness import Reason
from publisher.oversight.review import awaiting_text, queued
from publisher.service.engine import Engine
from publisher.store.ledger import claim_due
from publisher.store.models import Delivery
from publisher.vocabulary import DeliveryStatus
from tests.support.clock import FakeClock
from tests.support.configs import EXAMPLE, problems
from tests.support.files import REPO, Drop
from tests.support.ledger import POST, audit_rows, one_delivery, rows, statuses
from tests.support.processes import publisher, running
from tests.support.stubs import scripted

HELLO = '[text]\nhi = "नमस्ते"\nen = "Hello"\n'
TAMIL = '[text]\nta = "பொங்கல் நல்வாழ்த்துகள்!"\nen = "Happy Pongal!"\n'


def as_user(name: str) -> dict[str, str]:
    """The environment of ``sudo -u publisher`` run by ``name``."""
    return {**os.environ, "SUDO_USER": name}


@pytest.mark.both_stores
def test_pause_all_takes_posts_but_sends_nothing_until_resumed_then_urgent_first(
    config_path: Path, engine: Engine, drop: Drop, clock: FakeClock
) -> None:
    env = as_user("dmo-sharma")
    paused = publisher("pause", "--reason", "Model code of conduct", config=config_path, env=env)
    assert paused.returncode == 0, paused.stderr
    assert "everything: paused by dmo-sharma" in paused.stdout

    drop("haryana", "a-normal.toml", POST.format(extra=""))
    drop("haryana", "b-urgent.toml", POST.format(extra='priority = "urgent"'))
    tick = engine.tick()
    assert len(tick.taken) == 2  # intake and planning go on
    assert tick.sent == []
    clock.advance(hours=6)
    assert engine.tick().sent == []
    assert {d.status for d in rows(engine)} == {DeliveryStatus.PENDING}
    shown = publisher("pauses", config=config_path)
    assert "Paused: everything, since" in shown.stdout
    assert "by dmo-sharma: Model code of conduct" in shown.stdout
    assert "Paused: everything" in publisher("status", config=config_path).stdout
    with engine.ledger() as session:
        assert "Paused: everything" in holds_text(session, engine.settings, clock())

    resumed = publisher("resume", "--reason", "Counting over", config=config_path, env=env)
    assert resumed.returncode == 0, resumed.stderr
    sent = engine.dispatcher.run_due()
    assert len(sent) == 4
    urgent = {d.post_id for d in rows(engine) if d.priority > 0}
    assert {c.post_id for c in sent[:2]} == urgent
    assert {d.status for d in rows(engine)} == {DeliveryStatus.DRY_RUN}

    [p] = audit_rows(engine, "pause")
    [r] = audit_rows(engine, "resume")
    assert (p.actor, p.subject, json.loads(p.detail)) == (
        "dmo-sharma",
        "everything",
        {"reason": "Model code of conduct"},
    )
    assert (r.actor, json.loads(r.detail)["reason"]) == ("dmo-sharma", "Counting over")
    with engine.ledger() as session:
        assert "Nothing is paused" in holds_text(session, engine.settings, clock())


@pytest.mark.both_stores
def test_pausing_a_unit_or_a_platform_holds_only_those(
    engine: Engine, drop: Drop, clock: FakeClock
) -> None:
    with engine.ledger.begin() as session:
        pause(session, Scope("haryana"), reason="mourning in the state", who="ops", now=clock())
        pause(session, Scope(None, "facebook"), reason="page under review", who="ops", now=clock())
    drop("haryana", "h.toml", '[text]\nhi = "नमस्ते"\nen = "Hello"\n')
    drop("tamil-nadu", "t.toml", TAMIL)
    engine.tick()
    assert statuses(engine, "haryana") == {
        "x:HaryanaPostal": {"pending"},
        "facebook:HaryanaPostalCircle": {"pending"},
        "instagram:haryanapostalcircle": {"pending"},
    }
    assert statuses(engine, "tamil-nadu") == {
        "x:TNPostalCircle": {"dry_run"},
        "facebook:TamilNaduPostalCircle": {"pending"},  # the platform's pause
        "instagram:tnpostalcircle": {"dry_run"},
    }
    with engine.ledger.begin() as session:
        resume(session, Scope(None, "facebook"), reason="review done", who="ops", now=clock())
    engine.tick()
    assert statuses(engine, "tamil-nadu")["facebook:TamilNaduPostalCircle"] == {"dry_run"}
    assert statuses(engine, "haryana")["facebook:HaryanaPostalCircle"] == {"pending"}


def test_one_unit_on_one_platform(engine: Engine, drop: Drop, clock: FakeClock) -> None:
    with engine.ledger.begin() as session:
        pause(session, Scope("haryana", "x"), reason="handle compromised", who="ops", now=clock())
    drop("haryana", "h.toml", '[text]\nhi = "नमस्ते"\nen = "Hello"\n')
    engine.tick()
    assert statuses(engine, "haryana") == {
        "x:HaryanaPostal": {"pending"},
        "facebook:HaryanaPostalCircle": {"dry_run"},
        "instagram:haryanapostalcircle": {"dry_run"},
    }


def test_pause_and_resume_refuse_what_they_cannot_mean(
    config_path: Path, engine: Engine, clock: FakeClock
) -> None:
    typo = publisher("pause", "--unit", "harayna", "--reason", "x", config=config_path)
    assert typo.returncode == 1
    assert "there is no unit 'harayna'; name one of: directorate, tamil-nadu" in typo.stderr
    with pytest.raises(PublisherError, match="no account is on 'koo'; name one of: facebook, "):
        Scope.checked(engine.settings, None, "koo")
    with pytest.raises(PublisherError, match="say why with --reason"), engine.ledger.begin() as s:
        pause(s, Scope(), reason=" ", who="ops", now=clock())

    with engine.ledger.begin() as session:
        pause(session, Scope("haryana"), reason="flood", who="ops", now=clock())
    again = publisher("pause", "--unit", "haryana", "--reason", "again", config=config_path)
    assert again.returncode == 1
    assert "unit haryana is paused already, since" in again.stderr
    assert "by ops: flood" in again.stderr
    wrong = publisher("resume", "--reason", "over", config=config_path)
    assert wrong.returncode == 1
    assert "everything is not paused; paused now: unit haryana" in wrong.stderr
    assert "Traceback" not in typo.stderr + again.stderr + wrong.stderr


def local(when: datetime, engine: Engine) -> str:
    return when.astimezone(engine.settings.zone).strftime("%Y-%m-%d %H:%M")


def with_blackout(
    config_path: Path, clock: FakeClock, start: datetime, end: datetime, lines: str
) -> Engine:
    """The example config with one blackout window from ``start`` to ``end`` (written in local
    time, as an administrator would) and the rest of its keys in ``lines``; an engine on it."""
    window = f'start = "{start:%Y-%m-%d %H:%M}"\nend = "{end:%Y-%m-%d %H:%M}"\n{lines}'
    text = config_path.read_text(encoding="utf-8") + "\n[[blackouts]]\n" + window
    config_path.write_text(text, encoding="utf-8")
    return Engine(load_settings(config_path), dry_run=True, clock=clock).start()


def test_a_blackout_window_holds_deliveries_until_it_ends(
    config_path: Path, drop: Drop, clock: FakeClock
) -> None:
    zone = load_settings(config_path).zone
    start = (clock() + timedelta(hours=1)).astimezone(zone).replace(second=0)
    end = start + timedelta(hours=2)
    engine = with_blackout(
        config_path,
        clock,
        start,
        end,
        'reason = "Polling day in Haryana"\nunits = ["haryana"]\nplatforms = ["x"]\n',
    )
    when = f"publish_at = {(start + timedelta(minutes=30)).replace(tzinfo=None).isoformat()}"
    drop("haryana", "h.toml", f'{when}\n[text]\nhi = "नमस्ते"\nen = "Hello"\n')
    drop("tamil-nadu", "t.toml", when + "\n" + TAMIL)
    engine.tick()
    ahead = publisher("pauses", config=config_path).stdout
    assert "Blackout ahead: haryana on x" in ahead
    assert "Polling day in Haryana" in ahead

    clock.now = start + timedelta(minutes=30)
    engine.tick()
    assert statuses(engine, "haryana") == {
        "x:HaryanaPostal": {"pending"},  # blacked out
        "facebook:HaryanaPostalCircle": {"dry_run"},
        "instagram:haryanapostalcircle": {"dry_run"},
    }
    assert statuses(engine, "tamil-nadu")["x:TNPostalCircle"] == {"dry_run"}
    clock.now = end - timedelta(seconds=1)
    engine.tick()
    assert statuses(engine, "haryana")["x:HaryanaPostal"] == {"pending"}
    clock.now = end
    engine.tick()
    assert statuses(engine, "haryana")["x:HaryanaPostal"] == {"dry_run"}


@pytest.mark.both_stores
def test_held_is_one_clause_the_claim_adds(engine: Engine, drop: Drop, clock: FakeClock) -> None:
    """claim_due without ``held`` takes what a pause holds: the filter is the keyword's alone."""
    drop("haryana", "h.toml", POST.format(extra=""))
    engine.intake.scan()
    with engine.ledger.begin() as session:
        pause(session, Scope(), reason="test", who="ops", now=clock())
    with engine.ledger.begin() as session:
        hold = held(session, clock(), engine.settings.blackouts)
        assert claim_due(session, clock(), timedelta(minutes=5), 10, held=hold) == []
        assert len(claim_due(session, clock(), timedelta(minutes=5), 10)) == 2


def approval_config(config_path: Path) -> None:
    text = config_path.read_text(encoding="utf-8").replace(
        'name = "Haryana Postal Circle"\n', 'name = "Haryana Postal Circle"\napproval = true\n'
    )
    config_path.write_text(text, encoding="utf-8")


def test_approval_gate_holds_a_units_posts_until_approved_or_cancelled(
    config_path: Path, drop: Drop, clock: FakeClock
) -> None:
    approval_config(config_path)
    engine = Engine(load_settings(config_path), dry_run=True, clock=clock).start()
    drop("haryana", "stamps.toml", POST.format(extra=""))
    drop("tamil-nadu", "t.toml", TAMIL)
    engine.tick()
    assert statuses(engine, "haryana") == {"x:HaryanaPostal": {"awaiting"}}
    assert statuses(engine, "tamil-nadu")["x:TNPostalCircle"] == {"dry_run"}  # no gate there
    clock.advance(days=1)
    engine.tick()
    assert statuses(engine, "haryana") == {"x:HaryanaPostal": {"awaiting"}}
    [post_id] = {d.post_id for d in rows(engine) if d.unit == "haryana"}

    review = publisher("review", config=config_path)
    assert review.returncode == 0, review.stderr
    assert "1 post(s) awaiting approval" in review.stdout
    assert f'publisher approve {post_id} --reason "…"' in review.stdout
    assert f'publisher cancel --post {post_id} --reason "…"' in review.stdout
    assert "AWAITING APPROVAL" in review.stdout
    assert "      | हरियाणा डाक परिमंडल: नए डाक टिकट उपलब्ध हैं।\n" in review.stdout  # exact text
    assert "      | @IndiaPostOffice @TNPostalCircle" in review.stdout  # and its tags

    env = as_user("reviewer-anand")
    ok = publisher("approve", str(post_id), "--reason", "text checked", config=config_path, env=env)
    assert ok.returncode == 0, ok.stderr
    assert f"post {post_id} approved by reviewer-anand: 2 deliveries released" in ok.stdout
    engine.tick()
    assert statuses(engine, "haryana") == {"x:HaryanaPostal": {"dry_run"}}
    twice = f"post {post_id} has nothing awaiting approval \\(its deliveries: 2 dry_run\\)"
    with pytest.raises(PublisherError, match=twice), engine.ledger.begin() as session:
        approve(session, post_id, reason="again", who="reviewer-anand", now=clock())

    drop("haryana", "second.toml", POST.format(extra='id = "second"'))
    engine.tick()
    [second] = {d.post_id for d in rows(engine) if d.status == "awaiting"}
    refused = publisher("cancel", "--post", str(second), "--reason", "wrong rate quoted",
                        config=config_path, env=env)  # fmt: skip
    assert refused.returncode == 0, refused.stderr
    assert f"post {second}: 2 deliveries cancelled by reviewer-anand" in refused.stdout
    engine.tick()
    assert {d.status for d in rows(engine) if d.post_id == second} == {"cancelled"}
    with engine.ledger() as session:
        assert awaiting_text(queued(session), engine.settings) == ""

    actions = [(a.actor, a.action, a.subject) for a in audit_rows(engine)]
    assert ("queue/haryana", "post.hold", f"post {post_id}") in actions
    assert ("reviewer-anand", "post.approve", f"post {post_id}") in actions
    assert ("reviewer-anand", "cancel", f"post {second}") in actions
    [approval] = audit_rows(engine, "post.approve")
    assert json.loads(approval.detail)["reason"] == "text checked"


def test_retry_sends_a_failed_delivery_again(
    config_path: Path, engine: Engine, drop: Drop, clock: FakeClock
) -> None:
    adapter = scripted(clock, [PermanentError("media rejected"), "1234"])
    dispatcher = one_delivery(engine, drop, adapter)
    dispatcher.run_due()
    [d] = rows(engine)
    assert d.status == DeliveryStatus.FAILED
    clock.advance(hours=1)
    assert dispatcher.run_due() == []  # a failed delivery stays failed

    again = publisher("retry", str(d.id), "--reason", "photo replaced", config=config_path)
    assert again.returncode == 0, again.stderr
    assert f"delivery {d.id} to x:HaryanaPostal will be sent again at once" in again.stdout
    dispatcher.run_due()
    [d] = rows(engine)
    assert (d.status, d.remote_id, d.attempts) == (DeliveryStatus.SENT, "1234", 1)
    assert len(adapter.calls) == 2

    sent = publisher("retry", str(d.id), "--reason", "x", config=config_path)
    assert sent.returncode == 1
    refusal = f"delivery {d.id} cannot be retried: it is sent; only failed or late ones can"
    assert refusal in sent.stderr
    trail = [(a.actor, a.action) for a in audit_rows(engine)]
    who = os.environ.get("SUDO_USER") or getpass.getuser()
    assert trail == [
        ("queue/haryana", "post.accept"),
        ("dispatch", "delivery.failed"),
        (who, "delivery.retry"),
        ("dispatch", "delivery.sent"),
    ]


def test_cancel_never_touches_a_sent_delivery(
    config_path: Path, engine: Engine, drop: Drop, clock: FakeClock
) -> None:
    adapter = scripted(clock, ["1234"])
    drop(
        "haryana", "later.toml", POST.format(extra='id = "later"\npublish_at = 2099-01-26T10:00:00')
    )
    dispatcher = one_delivery(engine, drop, adapter)
    dispatcher.run_due()
    sent = next(d for d in rows(engine) if d.status == DeliveryStatus.SENT)
    later = [d for d in rows(engine) if d.status == DeliveryStatus.PENDING]

    refused = publisher("cancel", "--delivery", str(sent.id), "--reason", "x", config=config_path)
    assert refused.returncode == 1
    assert (
        f"delivery {sent.id} cannot be cancelled: it is sent already (remote id 1234); "
        "remove it on the platform" in refused.stderr
    )
    nothing = publisher("cancel", "--post", str(sent.post_id), "--reason", "x", config=config_path)
    assert nothing.returncode == 1
    assert f"post {sent.post_id} has nothing left to cancel (its deliveries: 1 sent)" in (
        nothing.stderr
    )
    one = publisher("cancel", "--delivery", str(later[0].id), "--reason", "date moved",
                    config=config_path)  # fmt: skip
    assert one.returncode == 0, one.stderr
    assert [d.status for d in rows(engine) if d.post_id == later[0].post_id] == [
        "cancelled",
        "pending",
    ]
    assert rows(engine)[sent.id - 1].status == DeliveryStatus.SENT


@pytest.mark.both_stores
@pytest.mark.parametrize("decision", ["cancel delivery", "cancel post"])
def test_a_cancel_racing_another_hosts_claim_waits_for_it_then_refuses(
    engine: Engine, drop: Drop, clock: FakeClock, decision: str
) -> None:
    """On PostgreSQL a dispatcher on another host may claim the delivery while an operator
    cancels it: the cancel must not overwrite a call in flight with "cancelled"."""
    drop("haryana", "one.toml", POST.format(extra='locales = ["hi"]'))
    engine.intake.scan()
    [d] = rows(engine)
    errors: list[str] = []

    def cancel() -> None:
        with engine.ledger.begin() as session:
            try:
                if decision == "cancel delivery":
                    cancel_delivery(session, d.id, reason="wrong date", who="anand", now=clock())
                else:
                    cancel_post(session, d.post_id, reason="wrong date", who="anand", now=clock())
            except PublisherError as exc:
                errors.append(str(exc))

    with engine.ledger.begin() as claiming:  # the other host's claim, not yet committed
        claim_due(claiming, clock(), timedelta(minutes=1), 1)
        operator = threading.Thread(target=cancel)
        operator.start()
        operator.join(0.5)
        assert operator.is_alive()  # it waits for the claim to commit
    operator.join(30)
    assert errors == [
        f"delivery {d.id} cannot be cancelled: it is being sent right now; once it is sent, "
        "remove it on the platform if needed"
        if decision == "cancel delivery"
        else f"post {d.post_id} has nothing left to cancel (its deliveries: 1 sending)"
    ]
    assert [r.status for r in rows(engine)] == [DeliveryStatus.SENDING]


def test_retry_sends_a_late_delivery_a_person_still_wants(
    engine: Engine, drop: Drop, clock: FakeClock
) -> None:
    drop("haryana", "one.toml", POST.format(extra='locales = ["hi"]'))
    engine.take()
    clock.advance(hours=engine.settings.dispatch.late_after_hours + 1)  # the engine was down
    assert engine.tick().sent == []
    [d] = rows(engine)
    assert d.status == DeliveryStatus.LATE
    with engine.ledger.begin() as s:
        retry(s, d.id, reason="the stamps are still on sale", who="ops", now=clock())
    [sent] = engine.tick().sent
    assert sent.delivery_id == d.id
    assert rows(engine)[0].status == DeliveryStatus.DRY_RUN


def test_retry_is_refused_for_what_has_not_failed(engine: Engine, clock: FakeClock) -> None:
    with (
        pytest.raises(PublisherError, match="there is no such delivery"),
        engine.ledger.begin() as s,
    ):
        retry(s, 99, reason="x", who="ops", now=clock())


CONFIG_CASES = [
    (
        "end before start",
        '[[blackouts]]\nstart = "2026-12-03 18:00"\nend = "2026-12-01 00:00"\nreason = "poll"\n',
        ["blackouts[0].end: the window ends (2026-12-01 00:00:00) before it starts",
         "Give an end later than the start"],
    ),
    (
        "unreadable time",
        '[[blackouts]]\nstart = "3 Dec, 6 pm"\nend = "2026-12-04 00:00"\nreason = "poll"\n',
        ["blackouts[0].start: '3 Dec, 6 pm' is not a date and time this engine can read",
         'Write it as "2026-12-01 10:00"'],
    ),
    (
        "unknown unit and platform",
        '[[blackouts]]\nstart = 2026-12-01T00:00:00\nend = 2026-12-02T00:00:00\nreason = "r"\n'
        'units = ["harayna"]\nplatforms = ["koo"]\n',
        ["blackouts[0].platforms[0]", "'koo' is not a platform with an installed adapter"],
    ),
    (
        "blank reason",
        '[[blackouts]]\nstart = "2026-12-01 00:00"\nend = "2026-12-02 00:00"\nreason = " "\n',
        ["blackouts[0].reason: it is blank", "Say why"],
    ),
    (
        "no end",
        '[[blackouts]]\nstart = "2026-12-01 00:00"\nreason = "poll"\n',
        ["blackouts[0].end: this required key is missing"],
    ),
]  # fmt: skip


@pytest.mark.parametrize(
    ("case", "extra", "expected"), CONFIG_CASES, ids=[c[0] for c in CONFIG_CASES]
)
def test_blackout_config_errors_name_key_and_fix(
    tmp_path: Path, case: str, extra: str, expected: list[str]
) -> None:
    found = problems(tmp_path, EXAMPLE + "\n" + extra)
    for text in expected:
        assert text in found


def test_a_blackout_naming_a_missing_unit_is_refused(tmp_path: Path) -> None:
    extra = '[[blackouts]]\nstart = "2026-12-01 00:00"\nend = "2026-12-02 00:00"\nreason = "r"\n'
    found = problems(tmp_path, EXAMPLE + "\n" + extra + 'units = ["harayna"]\n')
    assert "blackouts[0].units: 'harayna' is not a unit. Name one of: directorate" in found


def test_approval_must_be_a_boolean(tmp_path: Path) -> None:
    text = EXAMPLE.replace(
        'name = "Haryana Postal Circle"\n', 'name = "Haryana Postal Circle"\napproval = "yes"\n'
    )
    found = problems(tmp_path, text)
    assert "units.haryana.approval" in found
    assert "Write true or false, without quotes" in found


@pytest.mark.both_stores
def test_a_running_daemon_obeys_a_pause_and_a_resume_without_a_restart(config_path: Path) -> None:
    """Tamil Nadu paused while the service runs: its post is taken and waits, while a Haryana post
    dropped after it goes out (so a dispatch pass did run). Resumed: the next pass sends it.
    Neither needs a restart or a reload."""
    text = config_path.read_text(encoding="utf-8").replace("poll_seconds = 5 ", "poll_seconds = 1 ")
    config_path.write_text(text, encoding="utf-8")
    queue = config_path.parent / "var" / "queue"

    def wait_for(unit: str, words: str) -> str:
        status = queue / unit / "STATUS.txt"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if status.exists() and words in (found := status.read_text(encoding="utf-8")):
                return found
            time.sleep(0.05)
        pytest.fail(f"{unit}/STATUS.txt never said {words!r}")

    def put(unit: str, text: str) -> None:
        (queue / unit / ".p.toml.part").write_text(text, encoding="utf-8")
        (queue / unit / ".p.toml.part").rename(queue / unit / "p.toml")

    with running(config_path):
        paused = publisher("pause", "--unit", "tamil-nadu", "--reason", "mourning",
                           config=config_path)  # fmt: skip
        assert paused.returncode == 0, paused.stderr
        put("tamil-nadu", TAMIL)
        wait_for("tamil-nadu", "p.toml")
        put("haryana", HELLO)
        wait_for("haryana", "5 dry_run")
        assert "5 pending" in wait_for("tamil-nadu", "p.toml")
        resumed = publisher("resume", "--unit", "tamil-nadu", "--reason", "mourning over",
                            config=config_path)  # fmt: skip
        assert resumed.returncode == 0, resumed.stderr
        wait_for("tamil-nadu", "5 dry_run")


def test_the_freshness_sweep_alerts_about_a_paused_account_instead_of_publishing(
    config_path: Path, clock: FakeClock
) -> None:
    """The 7-day guarantee reads the operators' pauses from the ledger: a paused account gets no
    evergreen post at its deadline, and the directorate is told why; the others get theirs."""
    pools = REPO / "schedules" / "evergreen"
    text = config_path.read_text(encoding="utf-8")
    config_path.write_text(text.replace('"schedules/evergreen"', f'"{pools}"'), encoding="utf-8")
    engine = Engine(load_settings(config_path), dry_run=True, clock=clock).start()
    engine.sweep_freshness()  # the accounts are tracked from now
    with engine.ledger.begin() as s:
        pause(s, Scope("tamil-nadu", "x"), reason="account under review", who="ops", now=clock())
    clock.advance(days=engine.settings.freshness.max_silence_days)
    sweep = engine.sweep_freshness()
    assert [r for key, r in sweep.alerted if key == "x:TNPostalCircle"] == [Reason.PAUSED]
    with engine.ledger() as s:
        targets = {d.account for d in s.scalars(select(Delivery))}
    assert "x:TNPostalCircle" not in targets  # no evergreen post for the paused account
    assert "facebook:TamilNaduPostalCircle" in targets  # its unpaused neighbour got one


def test_deliveries_paused_for_days_go_out_after_resume_not_late(
    engine: Engine, drop: Drop, clock: FakeClock
) -> None:
    """`late` is for an engine that was stopped; what operators held back goes out when
    released, however long the hold."""
    with engine.ledger.begin() as s:
        pause(s, Scope(), reason="state mourning", who="ops", now=clock())
    drop("haryana", "one.toml", POST.format(extra='locales = ["hi"]'))
    engine.tick()
    clock.advance(days=3)
    assert engine.tick().late == []
    assert {d.status for d in rows(engine)} == {DeliveryStatus.PENDING}
    with engine.ledger.begin() as s:
        resume(s, Scope(), reason="mourning over", who="ops", now=clock())
    assert len(engine.tick().sent) == 1
    assert {d.status for d in rows(engine)} == {DeliveryStatus.DRY_RUN}


def test_a_post_approved_days_later_goes_out_then(
    config_path: Path, drop: Drop, clock: FakeClock
) -> None:
    approval_config(config_path)
    engine = Engine(load_settings(config_path), dry_run=True, clock=clock).start()
    drop("haryana", "stamps.toml", POST.format(extra='locales = ["hi"]'))
    engine.tick()
    clock.advance(days=2)  # the reviewer was away
    [d] = rows(engine)
    with engine.ledger.begin() as s:
        approve(s, d.post_id, reason="checked", who="reviewer", now=clock())
    assert [c.delivery_id for c in engine.tick().sent] == [d.id]


def test_a_delivery_a_long_blackout_held_goes_out_when_it_ends(
    config_path: Path, drop: Drop, clock: FakeClock
) -> None:
    zone = load_settings(config_path).zone
    start = clock().astimezone(zone).replace(second=0, microsecond=0)
    end = start + timedelta(days=2)
    engine = with_blackout(
        config_path, clock, start, end, 'reason = "Silence period before polling"\n'
    )
    clock.advance(minutes=1)
    drop("haryana", "one.toml", POST.format(extra='locales = ["hi"]'))
    engine.tick()
    clock.now = end.astimezone(UTC) + timedelta(hours=1)
    tick = engine.tick()
    assert (len(tick.sent), tick.late) == (1, [])
    clock.now += timedelta(days=2)  # an engine stopped for days after the window: late after all
    drop("haryana", "two.toml", POST.format(extra='locales = ["en"]'))
    engine.take()
    clock.advance(days=2)
    assert len(engine.tick().late) == 1
