"""Outbox and alert lifecycle: real SQLite file, real SDK, real HTTP to the loopback receiver."""

from __future__ import annotations

import collections
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

from sentry_receiver import SentryReceiver
from sinks.outbox import AlertLifecycle, Outbox, SendResult

ROOT = Path(__file__).resolve().parents[1]


def alert(metric: str = "refusal_rate", route: str = "chat", firing: bool = True, **kw: Any) -> dict[str, Any]:
    f = {
        "metric": metric,
        "segment": {"model": "acme-7b", "model_version": "v2", "route": route},
        "n_baseline": 2000, "n_current": 2000,
        "baseline_value": 0.02, "current_value": 0.06 if firing else 0.021,
        "effect": 0.04 if firing else 0.001, "ci_low": 0.03, "ci_high": 0.05,
        "p_value": 1e-9 if firing else 0.7, "q_value": 1e-8 if firing else 0.8,
        "alert": firing, "direction": "worse", "severity": "error" if firing else "info",
        "details": {"examples": [{"response": "RESPONSE-TEXT-secret"}]},
    }
    f.update(kw)
    return f


def test_outage_then_recovery_delivers_each_alert_exactly_once(
    tmp_path: Path, sentry_receiver: SentryReceiver, make_sentry_sink: Any
) -> None:
    sink = make_sentry_sink()
    box = Outbox(tmp_path / "outbox.sqlite", base_backoff=2, max_backoff=60)
    routes = ["chat", "search", "summarize", "extract", "code"]
    ids = [box.enqueue(alert(route=r), now=0) for r in routes]

    # 1. Sentry unreachable: connection refused, nothing lost, backoff
    sentry_receiver.stop()
    rep = box.deliver(sink, now=0)
    assert (rep.attempted, rep.sent, rep.pending) == (1, 0, 5)
    assert rep.blocked_until == 2 and "network" in rep.errors[0]
    assert box.deliver(sink, now=1).attempted == 0  # still backing off

    # 2. back, but rate limiting: 429 with Retry-After is honoured
    sentry_receiver.start()
    sentry_receiver.set_mode("429", retry_after=1)
    rep = box.deliver(sink, now=2)
    assert (rep.attempted, rep.sent, rep.pending, rep.blocked_until) == (1, 0, 5, 3)
    assert box.deliver(sink, now=2.5).attempted == 0
    time.sleep(1.05)  # the SDK also honours Retry-After (in real time)

    # 3. server errors
    sentry_receiver.set_mode("500")
    rep = box.deliver(sink, now=3)
    assert (rep.attempted, rep.sent, rep.pending) == (1, 0, 5)
    assert rep.blocked_until == 3 + 2 * 2 ** 2  # third failed attempt of the first entry

    # 4. recovery: everything goes out, once
    sentry_receiver.set_mode("ok")
    rep = box.deliver(sink, now=11)
    assert (rep.attempted, rep.sent, rep.pending) == (5, 5, 0)
    assert box.deliver(sink, now=100).attempted == 0

    statuses = [r.status for r in sentry_receiver.requests]
    assert statuses.count(429) == 1 and statuses.count(500) == 1 and statuses.count(200) == 5
    events = sentry_receiver.events()
    assert sorted(e["event_id"] for e in events) == sorted(ids)
    fps = collections.Counter(tuple(e["fingerprint"]) for e in events)
    assert len(fps) == 5 and set(fps.values()) == {1}
    # the failed attempts carried the same event_id as the final one (Sentry dedups on it)
    failed_ids = {r.envelope.headers["event_id"] for r in sentry_receiver.requests if r.status != 200 and r.envelope}
    assert failed_ids == {ids[0]}
    assert all(b"RESPONSE-TEXT-secret" not in e.raw for e in sentry_receiver.envelopes)
    assert box.counts() == {"pending": 0, "sent": 5, "failed": 0}
    sent = box.entries("sent")
    assert sent[0].attempts == 4 and all(e.attempts == 1 for e in sent[1:])


def test_ambiguous_timeout_is_retried_with_the_same_event_id(
    tmp_path: Path, sentry_receiver: SentryReceiver, make_sentry_sink: Any
) -> None:
    sink = make_sentry_sink(timeout=0.3)
    box = Outbox(tmp_path / "o.sqlite", base_backoff=2)
    eid = box.enqueue(alert(), now=0)
    sentry_receiver.set_mode("ok", delay=1.0)  # stores the event, answers too late
    rep = box.deliver(sink, now=0)
    assert rep.sent == 0 and rep.pending == 1 and "ambiguous" in rep.errors[0]
    sentry_receiver.set_mode("ok", delay=0.0)
    assert sentry_receiver.wait_for(lambda r: len(r.events()) == 1)
    time.sleep(1.0)  # the late answer arrives (and is ignored: nobody waits for it any more)
    rep = box.deliver(sink, now=2)
    assert rep.sent == 1 and rep.pending == 0
    # the server saw the event twice, under one event_id: Sentry keeps one event
    assert [e["event_id"] for e in sentry_receiver.events()] == [eid, eid]


def test_outbox_survives_restart_and_permanent_failures(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite"
    box = Outbox(path)
    a = box.enqueue(alert(route="a"), now=0)
    b = box.enqueue(alert(route="b"), now=0)
    assert box.enqueue(alert(route="a"), event_id=a, now=0) == a  # idempotent enqueue
    box.close()

    box = Outbox(path)  # "restart"
    assert [e.event_id for e in box.pending()] == [a, b]

    def sender(payload: dict, event_id: str) -> SendResult:
        if payload["finding"]["segment"]["route"] == "a":
            return SendResult(delivered=False, status=400, error="HTTP 400", permanent=True)
        return SendResult(delivered=True, status=200)

    rep = box.deliver(sender, now=1)
    assert (rep.sent, rep.failed, rep.pending) == (1, 1, 0)
    assert box.entries("failed")[0].last_error == "HTTP 400"

    def boom(payload: dict, event_id: str) -> SendResult:
        raise RuntimeError("sender bug")

    c = box.enqueue(alert(route="c"), now=2)
    rep = box.deliver(boom, now=2)
    assert rep.pending == 1 and "sender bug" in rep.errors[0]
    assert box.pending()[0].event_id == c


_DELIVERER = textwrap.dedent(
    """
    import sys, time
    sys.path.insert(0, {root!r})
    from sinks.outbox import Outbox
    from sinks.sentry import SentrySink
    sink = SentrySink(dsn=sys.argv[2], environment="test", timeout=5)
    box = Outbox(sys.argv[1])
    sent = 0
    while box.pending():
        sent += box.deliver(sink).sent
    sink.close()
    print(sent)
    """
)


def test_two_processes_share_the_outbox_without_double_sends(
    tmp_path: Path, sentry_receiver: SentryReceiver
) -> None:
    path = tmp_path / "shared.sqlite"
    box = Outbox(path)
    ids = {box.enqueue(alert(route=f"r{i}")) for i in range(60)}
    script = _DELIVERER.format(root=str(ROOT))
    ps = [
        subprocess.Popen([sys.executable, "-c", script, str(path), sentry_receiver.dsn], stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=60)[0] for p in ps]
    assert all(p.returncode == 0 for p in ps)
    assert sum(int(o.strip()) for o in outs) == 60
    events = sentry_receiver.events()
    assert len(events) == 60 and {e["event_id"] for e in events} == ids
    assert box.counts()["sent"] == 60


def test_lifecycle_open_cooldown_resolve_reopen_same_fingerprint(
    tmp_path: Path, sentry_receiver: SentryReceiver, make_sentry_sink: Any
) -> None:
    sink = make_sentry_sink()
    path = tmp_path / "state.sqlite"

    def life() -> AlertLifecycle:  # a fresh process each time: state must come from disk
        return AlertLifecycle(Outbox(path), cooldown=600, resolve_after=300)

    bad, good = alert(), alert(firing=False)
    other = alert(metric="parse_failure_rate")
    steps = [
        (0, bad, "opened"),
        (60, bad, "suppressed"),        # within cooldown: no new event
        (120, good, "clearing"),
        (200, bad, "suppressed"),       # back above the floor: resolve timer restarts
        (300, good, "clearing"),
        (400, dict(good, p_value=None, alert=False), "clearing"),  # untestable: timer unaffected
        (620, good, "resolved"),        # 320 s inside the floor
        (700, good, "ignored"),
        (900, bad, "reopened"),         # came back: sent again
        (1000, bad, "suppressed"),
        (1501, bad, "reminder"),        # cooldown over: one reminder
        (1600, other, "opened"),
    ]
    actions = []
    for t, f, expected in steps:
        lc = life()
        actions.append((t, lc.observe(f, now=t).action))
        lc.outbox.deliver(sink, now=t)
        assert actions[-1] == (t, expected)
    events = sentry_receiver.events()
    assert [e["tags"]["alert_transition"] for e in events] == ["opened", "reopened", "reminder", "opened"]
    fp = events[0]["fingerprint"]
    assert fp == ["llm-monitor", "refusal_rate", "model=acme-7b,model_version=v2,route=chat"]
    assert events[1]["fingerprint"] == fp and events[2]["fingerprint"] == fp
    assert events[3]["fingerprint"][1] == "parse_failure_rate"
    assert len({e["event_id"] for e in events}) == 4
    lc = life()
    state = lc.state("refusal_rate|model=acme-7b,model_version=v2,route=chat")
    assert state is not None and state["state"] == "open" and state["occurrences"] == 2
    assert lc.open_alerts() == [
        "parse_failure_rate|model=acme-7b,model_version=v2,route=chat",
        "refusal_rate|model=acme-7b,model_version=v2,route=chat",
    ]
