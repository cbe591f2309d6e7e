"""``GET /metrics``: the gates in the Prometheus text format, for the operator's monitoring.

Worked out at each scrape from what the app already reads (today's counts per gate from the log, each
gate's heartbeat for its devices, backlog and the counters its agent keeps), so every web app in front
of a log, a gate's own or the central one, reports the same figures as its screens. Counts, never a
visitor: no temperature, no entry. It needs the ``api`` permission (a manager's login, by HTTP basic
auth as for ``/api``: Prometheus's ``basic_auth``).

Families (labels ``gate`` = gate id):

- ``checkpoint_decisions_today{gate,outcome}``: today's final outcomes (a guard's override counts as the
  outcome it set), ``checkpoint_visitors_today{gate}``, ``checkpoint_denied_today{gate,reason}``,
  ``checkpoint_inside{gate}``;
- ``checkpoint_visit_seconds_today{gate,quantile}``: from a visitor's first reading to the decision;
- ``checkpoint_gate_up{gate}`` (0 when its heartbeat is silent), ``checkpoint_gate_heartbeat_age_seconds``,
  ``checkpoint_gate_backlog`` (entries waiting in its outbox for the central log);
- ``checkpoint_component_ok{gate,component}`` (1 ok, 0 degraded, down or unknown),
  ``checkpoint_component_simulated{gate,component}``, and ``checkpoint_component_events_total{gate,component,
  event}``: the agent's counters since it started (door ``opened`` / ``not_opened``, ``forwarded``,
  ``write_errors``, the scanner's ``disconnects`` ...).
"""

from __future__ import annotations

import statistics
from typing import Iterator

from flask import Blueprint, Response, current_app
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import select
from sqlmodel import Session, col

from checkpoint.counts import daily_counts, occupancy
from checkpoint.models import Entry
from web.auth import requires
from web.health import GateHealth, gate_health
from web.state import state, today

bp = Blueprint("metrics", __name__)
QUANTILES = (0.5, 0.9)


class GateCollector(Collector):
    """One scrape's families, from one session."""

    def __init__(self, session: Session, gates: list[GateHealth]) -> None:
        self.session, self.gates = session, gates

    def collect(self) -> Iterator[Metric]:
        yield from self._counts()
        yield from self._health()

    def _counts(self) -> Iterator[Metric]:
        decisions = GaugeMetricFamily("checkpoint_decisions_today", "Today's final outcomes (local day of the gate).",
                                      labels=["gate", "outcome"])
        visitors = GaugeMetricFamily("checkpoint_visitors_today", "Today's visitors: final outcomes allowed or "
                                     "denied (a re-measure and its retry are one visitor).", labels=["gate"])
        denied = GaugeMetricFamily("checkpoint_denied_today", "Today's denials by reason.", labels=["gate", "reason"])
        inside = GaugeMetricFamily("checkpoint_inside", "People inside now: allowed entries minus exits today.",
                                   labels=["gate"])
        visit = GaugeMetricFamily("checkpoint_visit_seconds_today", "Time from a visitor's first reading to the "
                                  "decision, today.", labels=["gate", "quantile"])
        for gate in self.gates:
            day = today(gate.gate_id)
            counts = daily_counts(self.session, day, gate.gate_id)
            for outcome in ("allowed", "denied", "remeasure"):
                decisions.add_metric([gate.gate_id, outcome], getattr(counts, outcome))
            visitors.add_metric([gate.gate_id], counts.visitors)
            for reason, n in sorted(counts.denied_by_reason.items()):
                denied.add_metric([gate.gate_id, reason], n)
            inside.add_metric([gate.gate_id], occupancy(self.session, day, gate.gate_id))
            durations = self._visit_seconds(gate.gate_id, day)
            if len(durations) >= 2:
                cuts = statistics.quantiles(durations, n=10, method="inclusive")
                for q, value in zip(QUANTILES, (statistics.median(durations), cuts[8])):
                    visit.add_metric([gate.gate_id, str(q)], round(value, 3))
        yield from (decisions, visitors, denied, inside, visit)

    def _visit_seconds(self, gate_id: str, day: str) -> list[float]:
        rows = self.session.execute(select(col(Entry.decided_at), col(Entry.visit_started_at)).where(
            col(Entry.gate_id) == gate_id, col(Entry.local_date) == day,
            col(Entry.visit_started_at).is_not(None))).all()
        return [max((decided - started).total_seconds(), 0.0) for decided, started in rows]

    def _health(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("checkpoint_gate_up", "1 while the gate's heartbeat arrives, 0 when it is silent.",
                               labels=["gate"])
        age = GaugeMetricFamily("checkpoint_gate_heartbeat_age_seconds", "Age of the gate's newest heartbeat.",
                                labels=["gate"])
        backlog = GaugeMetricFamily("checkpoint_gate_backlog", "Entries in the gate's outbox not yet in the "
                                    "central log.", labels=["gate"])
        ok = GaugeMetricFamily("checkpoint_component_ok", "1 when the device or service is ok, 0 when degraded, "
                               "down or unknown.", labels=["gate", "component"])
        simulated = GaugeMetricFamily("checkpoint_component_simulated", "1 when the component is a software "
                                      "stand-in (checkpoint run --simulate).", labels=["gate", "component"])
        events = CounterMetricFamily("checkpoint_component_events", "Counters the gate's agent keeps per component "
                                     "since it started.", labels=["gate", "component", "event"])
        for gate in self.gates:
            up.add_metric([gate.gate_id], 0 if gate.silent else 1)
            age.add_metric([gate.gate_id], gate.age_s)
            backlog.add_metric([gate.gate_id], gate.backlog)
            for component in gate.components:
                ok.add_metric([gate.gate_id, component.name], 1 if component.state == "ok" else 0)
                simulated.add_metric([gate.gate_id, component.name], 1 if component.simulated else 0)
                for event, n in sorted(component.counters.items()):
                    events.add_metric([gate.gate_id, component.name, event], n)
        yield from (up, age, backlog, ok, simulated, events)


@bp.route("/metrics")
@requires("api", api=True)
def metrics():
    app_state = state()
    with Session(app_state.engine) as session:
        gates = gate_health(session, current_app.config["SILENT_AFTER_S"], app_state.gate)
        registry = CollectorRegistry(auto_describe=False)
        registry.register(GateCollector(session, gates))
        body = generate_latest(registry)
    return Response(body, mimetype="text/plain; version=0.0.4; charset=utf-8",
                    headers={"Cache-Control": "no-store"})
