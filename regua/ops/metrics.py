"""/metrics: Régua's state in Prometheus' text format (prometheus_client writes it).

Gauges read from the database at scrape time (SystemStatus), not counters kept in
memory: web processes come and go and several run at once, while the database is the
one place that knows the queue. Counters that only a worker knows (messages handled,
errors) come from the workers' heartbeats, labelled by worker.
"""

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from .status import SystemStatus


class StatusCollector(Collector):
    def __init__(self, status: SystemStatus) -> None:
        self.status = status

    def collect(self) -> Iterator[Metric]:
        status = self.status
        deliveries = GaugeMetricFamily(
            "regua_deliveries", "Régua deliveries by status.", labels=["status"]
        )
        for name, count in sorted(status.deliveries_by_status.items()):
            deliveries.add_metric([name], count)
        yield deliveries
        yield GaugeMetricFamily(
            "regua_queue_lag_seconds",
            "How late the oldest due régua delivery is.",
            value=status.queue_lag_seconds,
        )
        yield GaugeMetricFamily(
            "regua_desk_outbox_lag_seconds",
            "How late the oldest service desk reply waiting to be e-mailed is.",
            value=status.desk_outbox_lag_seconds,
        )
        yield GaugeMetricFamily(
            "regua_jobs_lag_seconds",
            "How long the oldest background job ready to run has waited.",
            value=status.jobs_lag_seconds,
        )
        yield GaugeMetricFamily(
            "regua_workers_alive",
            "Workers whose heartbeat is recent.",
            value=len(status.workers_alive),
        )
        yield from self._workers()
        yield from self._imports()

    def _workers(self) -> Iterator[Metric]:
        labels = ["worker"]
        beat_age = GaugeMetricFamily(
            "regua_worker_heartbeat_age_seconds",
            "Seconds since the worker's last beat.",
            labels=labels,
        )
        rate = GaugeMetricFamily(
            "regua_worker_sent_last_minute",
            "Messages the worker handled in the last minute.",
            labels=labels,
        )
        tick = GaugeMetricFamily(
            "regua_tick_duration_seconds", "How long the worker's last tick took.", labels=labels
        )
        sent = CounterMetricFamily(
            "regua_worker_sent", "Messages the worker handled since it started.", labels=labels
        )
        errors = CounterMetricFamily(
            "regua_worker_errors", "Errors the worker met since it started.", labels=labels
        )
        for worker in self.status.workers_alive:
            beat = worker.beat
            beat_age.add_metric([beat.name], worker.beat_age_seconds)
            rate.add_metric([beat.name], beat.sent_last_minute)
            if beat.tick_seconds is not None:
                tick.add_metric([beat.name], beat.tick_seconds)
            sent.add_metric([beat.name], beat.sent_total)
            errors.add_metric([beat.name], beat.errors_total)
        yield from (beat_age, rate, tick, sent, errors)

    def _imports(self) -> Iterator[Metric]:
        yield GaugeMetricFamily(
            "regua_imports_running", "Imports running now.", value=self.status.imports_running
        )
        last = self.status.last_import
        if last is not None:
            yield GaugeMetricFamily(
                "regua_import_rows_per_second",
                "Rows per second of the last import finished in the last day.",
                value=round(last.rows_per_second, 1),
            )


def metrics_text(status: SystemStatus) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StatusCollector(status))
    return generate_latest(registry)
