"""Prometheus metrics: requests, latencies, and the job queue's depth and age."""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from clearinghouse.storage import jobs
from clearinghouse.storage.db import Database


class QueueCollector(Collector):
    def __init__(self, db: Database) -> None:
        self.db = db

    def collect(self) -> Iterable[Metric]:
        with self.db.transaction() as session:
            stats = jobs.queue_stats(session)
        yield GaugeMetricFamily(
            "clearinghouse_jobs_queue_depth", "Jobs queued or running", value=stats["depth"]
        )
        yield GaugeMetricFamily(
            "clearinghouse_jobs_oldest_queued_age_seconds",
            "Age of the oldest queued job",
            value=stats["oldest_age_seconds"],
        )


class Metrics:
    def __init__(self, db: Database) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "clearinghouse_http_requests",
            "HTTP requests",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "clearinghouse_http_request_duration_seconds",
            "HTTP request latency",
            ["method", "route"],
            registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        self.registry.register(QueueCollector(db))
