"""The visitor's own screen, /visitor: one large colour state, a pictogram, an instruction in Bahasa Indonesia
with English below, and a spoken prompt.

A kiosk page facing the queue: no login, and nothing about earlier visitors. It opens on "waiting" (or "gate
closed") and shows only decisions made while it is open, each for ``[visitor] show_s``. It listens to
/visitor/events, a filtered view of the live screens' event stream (web.events.Broker, with the same caps per
address and in total): for one gate only, no replay, and per event only what the page shows (the state, the
texts, the pictogram and prompt keys; no uid, no temperature, no name). States:

- ``waiting``, ``measure`` (a face seen, no reading: ``no_reading``), ``allowed`` (a flag's reminder below),
  ``denied`` with the reason, ``remeasure`` with the reason (``fever_retest``: the rest and the time to come
  back, from ``rules.fever.rest_s``),
- ``closed``: the gate cannot decide (its agent silent; the scanner, camera, door relay or the log it writes
  down), this app cannot read the log, or the page lost its stream (``lost``, decided in the page).

A guard's override of a visitor who is still at the gate (decided within ``door.override_within_s``) shows as
that visitor's new state, as the door opens for it.
"""

from __future__ import annotations

import json
import logging
import math
import queue
import time
from datetime import datetime, timedelta, timezone
from typing import Iterator, Optional
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, current_app, render_template, request, stream_with_context
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, select

from checkpoint import reasons as R
from checkpoint.models import ALLOWED, DENIED, Entry, GateStatus
from web import events
from web.health import gate_health
from web.state import selected_gate, state

log = logging.getLogger(__name__)
bp = Blueprint("visitor", __name__)
TICK_S = 2.0  # the stream writes at least this often; the page counts 3 missed ticks as a lost stream
CLOSING = ("scanner", "camera", "door", "database")  # down: this gate lets nobody in by itself

Text = tuple[str, str]  # (Bahasa Indonesia, English)

TITLES: dict[str, Text] = {
    "waiting": ("Selamat datang", "Welcome"),
    "measure": ("Ukur suhu", "Measure your temperature"),
    "allowed": ("Silakan masuk", "Please enter"),
    "denied": ("Belum dapat masuk", "You cannot enter yet"),
    "remeasure": ("Ukur ulang", "Measure again"),
    "closed": ("Pintu ditutup", "Gate closed"),
    "lost": ("Pintu ditutup", "Gate closed"),
}
INSTRUCTIONS: dict[str, Text] = {
    "waiting": ("Pakai masker, hadapkan wajah ke kamera, lalu ukur suhu di sensor.",
                "Wear your mask, face the camera, then measure your temperature at the sensor."),
    "allowed": ("Terima kasih.", "Thank you."),
    "closed": ("Mohon ke petugas.", "Please see the officer."),
    "lost": ("Layar ini terputus. Mohon ke petugas.", "This screen has lost its connection. Please see the officer."),
}
REST: Text = ("Suhu Anda tinggi. Silakan istirahat {rest}, lalu ukur ulang pukul {at}.",
              "Your temperature is high. Please rest for {rest_en}, then measure again at {at}.")
# pictogram per state, and per reason where the reason says more
ICONS = {"waiting": "waiting", "measure": "thermometer", "allowed": "enter", "denied": "stop", "remeasure": "again",
         "closed": "closed", "lost": "closed"}
REASON_ICONS = {R.NO_MASK: "mask", R.MASK_INCORRECT: "mask", R.MASK_UNCERTAIN: "face", R.NO_FACE: "face",
                R.FACE_TURNED: "face", R.FEVER: "fever", R.FEVER_RETEST: "rest", R.CAPACITY_FULL: "full",
                R.IMPLAUSIBLE: "thermometer", R.NO_READING: "thermometer", R.SCANNER_FAULT: "closed",
                R.CAMERA_FAULT: "closed"}


def _pair(text: Text) -> dict:
    return {"id": text[0], "en": text[1]}


def _reason_text(code: str) -> Text:
    return R.message(code, "id"), R.message(code, "en")


def _rest(seconds: float) -> tuple[str, str]:
    if seconds < 60:
        n = max(int(math.ceil(seconds)), 1)
        return f"{n} detik", f"{n} seconds"
    n = int(math.ceil(seconds / 60))
    return f"{n} menit", f"{n} minute{'s' if n != 1 else ''}"


def view_of(outcome: str, reasons: list[str], decided_at: datetime, rest_s: float, zone) -> dict:
    """What the visitor screen shows for one decision (pure: the tests and the stream use it)."""
    primary = R.canonical(reasons[0]) if reasons else ""
    voice = R.voice_key(outcome, reasons)
    if outcome == ALLOWED:
        name = "allowed"
        flag = next((R.canonical(c) for c in reasons if c in (R.MASK_INCORRECT, R.NO_MASK)), "")
        instruction = _reason_text(flag) if flag else INSTRUCTIONS["allowed"]  # let in, flagged: a reminder
        icon = ICONS[name]
    else:
        name = "denied" if outcome == DENIED else ("measure" if primary == R.NO_READING else "remeasure")
        instruction = _reason_text(primary) if primary else INSTRUCTIONS["closed"]  # a guard's call: see them
        icon = REASON_ICONS.get(primary, ICONS[name])
    view = {"state": name, "reason": primary, "icon": icon, "voice": voice, "title": _pair(TITLES[name]),
            "text": _pair(instruction), "come_back_at": None}
    if primary == R.FEVER_RETEST and outcome != ALLOWED:
        back = decided_at + timedelta(seconds=rest_s)
        at = back.astimezone(zone).strftime("%H:%M")
        rest_id, rest_en = _rest(rest_s)
        view["text"] = {"id": REST[0].format(rest=rest_id, at=at), "en": REST[1].format(rest_en=rest_en, at=at)}
        view["come_back_at"] = back.isoformat()
    return view


def closed_because(gate: Optional[str], silent_after_s: float) -> list[str]:
    """Why the gate lets nobody in now ([] when it is open): its agent silent, a component down, the log unread."""
    try:
        with Session(state().engine) as session:
            gates = gate_health(session, silent_after_s, gate)
    except SQLAlchemyError as exc:
        log.warning("visitor screen cannot read the log: %s", str(exc).splitlines()[0][:200])
        return ["unreachable"]
    if not gates:
        return ["silent"]  # no heartbeat from this gate at all: its agent is not there
    why: list[str] = []
    for health in gates:
        if health.silent:
            why.append("silent")
        why += [c.name for c in health.components if c.name in CLOSING and c.state == "down"]
    return why


def _gate_id() -> str:
    return selected_gate(request.args.get("gate")) or state().settings.gate.id


def _zone(gate: str):
    """The gate's time zone (its heartbeat's), read in a session of its own: a stream holds no connection."""
    try:
        with Session(state().engine) as session:
            name = session.exec(select(GateStatus.timezone).where(GateStatus.gate_id == gate)).first()
        return ZoneInfo(name) if name else state().settings.zone
    except (SQLAlchemyError, KeyError, ValueError):
        return state().settings.zone


def _page_state(name: str) -> dict:
    """A state the page shows by itself (no decision): waiting, closed, lost."""
    return {"state": name, "reason": "", "title": _pair(TITLES[name]), "text": _pair(INSTRUCTIONS[name]),
            "icon": ICONS[name], "voice": "closed" if name == "lost" else name}


def page_texts() -> dict:
    settings = state().settings
    return {
        "show_s": settings.visitor.show_s,
        "voice": settings.visitor.voice,
        "voice_language": settings.visitor.voice_language,
        "tick_s": TICK_S,
        "states": {name: _page_state(name) for name in ("waiting", "closed", "lost")},
    }


@bp.route("/visitor")
def index():
    gate = _gate_id()
    why = closed_because(gate, current_app.config["SILENT_AFTER_S"])
    texts = json.dumps(page_texts(), sort_keys=True).replace("<", "\\u003c")  # safe inside <script>
    return render_template("visitor.html", gate=gate, closed=why, texts=texts)


@bp.route("/visitor/events")
def stream():
    gate = _gate_id()
    broker = state().broker
    try:
        subscription = broker.subscribe(request.remote_addr or "")
    except events.StreamRefused as refused:
        return Response(refused.message + "\n", refused.status, mimetype="text/plain",
                        headers={"Retry-After": str(refused.retry_after_s), "Cache-Control": "no-store"})
    body = _events(broker, subscription[0], gate, _zone(gate))
    response = Response(stream_with_context(body), mimetype="text/event-stream",
                        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
    response.call_on_close(lambda: broker.unsubscribe(subscription[0]))
    return response


def _encode(kind: str, data: dict) -> str:
    return f"event: {kind}\ndata: {json.dumps(data, sort_keys=True)}\n\n"


def _events(broker: events.Broker, subscriber: events.Subscriber, gate: str, zone) -> Iterator[str]:
    settings = state().settings
    silent_after_s = current_app.config["SILENT_AFTER_S"]
    try:
        yield "retry: 2000\n\n"
        closed = closed_because(gate, silent_after_s)
        yield _encode("gate", {"closed": closed})
        wrote = time.monotonic()
        while True:
            try:
                event = subscriber.queue.get(timeout=max(TICK_S - (time.monotonic() - wrote), 0.001))
            except queue.Empty:
                wrote = time.monotonic()
                yield _encode("tick", {"t": round(time.time(), 3)})
                continue
            if event is events.CLOSED:
                return
            if event.gate_id != gate:
                continue
            out = None
            if event.kind == "status":
                now_closed = closed_because(gate, silent_after_s)
                if now_closed != closed:
                    closed, out = now_closed, _encode("gate", {"closed": now_closed})
            elif event.kind == "entry" and not event.data.get("replay"):
                out = _entry(event.data, settings, zone)
            elif event.kind == "override" and not event.data.get("replay"):
                out = _decision(event.data["entry_uid"], settings, zone, settings.door.override_within_s,
                                event.data.get("outcome"))
            if out:
                wrote = time.monotonic()
                yield out
    finally:
        broker.unsubscribe(subscriber)


def _entry(data: dict, settings, zone) -> Optional[str]:
    """The visitor event for a new entry, unless it is older than show_s (a late commit: not this visitor)."""
    try:
        decided_at = datetime.fromisoformat(data["decided_at"])
    except (TypeError, ValueError, KeyError):
        return None
    if decided_at.tzinfo is None:
        decided_at = decided_at.replace(tzinfo=timezone.utc)
    if (datetime.now(timezone.utc) - decided_at).total_seconds() > settings.visitor.show_s:
        return None
    reasons = [data["reason"]] if data.get("reason") else []
    return _encode("visitor", view_of(data["outcome"], reasons, decided_at, settings.rules.fever.rest_s, zone))


def _decision(uid: str, settings, zone, within_s: float, outcome: Optional[str] = None) -> Optional[str]:
    """The visitor event for an override of an entry decided at most ``within_s`` ago (the visitor may still be
    at the gate, secondary screening done; an older entry overridden on the log is not this visitor's)."""
    try:
        with Session(state().engine) as session:
            row = session.exec(select(Entry.outcome, Entry.reasons, Entry.decided_at).where(Entry.uid == uid)).first()
    except SQLAlchemyError as exc:
        log.warning("visitor screen cannot read an entry: %s", str(exc).splitlines()[0][:200])
        return None
    if row is None:
        return None
    decided_at = row[2] if row[2].tzinfo else row[2].replace(tzinfo=timezone.utc)
    if (datetime.now(timezone.utc) - decided_at).total_seconds() > within_s:
        return None
    reasons = R.split_codes(row[1] or "")
    if outcome == ALLOWED:
        reasons = []  # a guard let the visitor in: no refusal reason to show
    view = view_of(outcome or row[0], reasons, decided_at, settings.rules.fever.rest_s, zone)
    return _encode("visitor", view)
