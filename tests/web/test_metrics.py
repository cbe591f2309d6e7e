"""/metrics: the gates in the Prometheus text format, read back with prometheus-client's own parser."""

from __future__ import annotations

import base64
import time
from datetime import datetime, timedelta, timezone

from prometheus_client.parser import text_string_to_metric_families
from web_helpers import PASSWORD, make_entry, store, store_status

from checkpoint.models import Override
from checkpoint.recorder import gate_status


def basic(user: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{PASSWORD}".encode()).decode()}


def scrape(client) -> dict[tuple[str, tuple], float]:
    response = client.get("/metrics", headers=basic("manager"))
    assert response.status_code == 200 and response.mimetype == "text/plain"
    assert response.headers["Cache-Control"] == "no-store"
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(response.get_data(as_text=True))
            for sample in family.samples}


def heartbeat(engine, components: dict, age_s: float = 0.0, backlog: int = 0) -> None:
    store_status(engine, gate_status("gate-1", "Pintu Utama", "Asia/Jakarta", components, backlog, 0, None,
                                     time.time() - age_s))


def test_metrics_need_a_manager_login(client, users):
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers=basic("guard")).status_code == 403


def test_metrics_change_with_each_decision_and_carry_the_gates_health(client, engine, users):
    heartbeat(engine, {"scanner": {"state": "ok", "counters": {"disconnects": 2}},
                       "door": {"state": "down", "counters": {"opened": 5, "not_opened": 1}},
                       "camera": {"state": "ok", "simulated": True}}, backlog=3)
    before = scrape(client)
    gate = (("gate", "gate-1"),)
    assert before[("checkpoint_visitors_today", gate)] == 0
    assert before[("checkpoint_gate_up", gate)] == 1 and before[("checkpoint_gate_backlog", gate)] == 3
    assert before[("checkpoint_component_ok", (("component", "scanner"), ("gate", "gate-1")))] == 1
    assert before[("checkpoint_component_ok", (("component", "door"), ("gate", "gate-1")))] == 0
    assert before[("checkpoint_component_simulated", (("component", "camera"), ("gate", "gate-1")))] == 1
    assert before[("checkpoint_component_events_total",
                   (("component", "door"), ("event", "opened"), ("gate", "gate-1")))] == 5

    now = datetime.now(timezone.utc)
    allowed = make_entry(now, visit_started_at=now - timedelta(seconds=4))
    store(engine, allowed, make_entry(now, outcome="denied", reasons="fever", body_c=38.2,
                                      visit_started_at=now - timedelta(seconds=6)))
    after = scrape(client)
    assert after[("checkpoint_visitors_today", gate)] == 2
    assert after[("checkpoint_decisions_today", (("gate", "gate-1"), ("outcome", "allowed")))] == 1
    assert after[("checkpoint_denied_today", (("gate", "gate-1"), ("reason", "fever")))] == 1
    assert after[("checkpoint_inside", gate)] == 1
    assert after[("checkpoint_visit_seconds_today", (("gate", "gate-1"), ("quantile", "0.5")))] == 5.0

    # a guard's override counts as the outcome it set, as on the screens and in the reports
    store(engine, Override(entry_uid=allowed.uid, gate_id="gate-1", by_user="guard", at=now, outcome="denied",
                           reason="no ticket"))
    overridden = scrape(client)
    assert overridden[("checkpoint_decisions_today", (("gate", "gate-1"), ("outcome", "allowed")))] == 0
    assert overridden[("checkpoint_decisions_today", (("gate", "gate-1"), ("outcome", "denied")))] == 2
    assert overridden[("checkpoint_inside", gate)] == 0


def test_a_silent_gate_is_down(client, engine, users):
    heartbeat(engine, {"scanner": {"state": "ok"}}, age_s=120)
    samples = scrape(client)
    assert samples[("checkpoint_gate_up", (("gate", "gate-1"),))] == 0
    assert samples[("checkpoint_gate_heartbeat_age_seconds", (("gate", "gate-1"),))] >= 120
