"""Metric naming and measurement, the sinks' output, percentiles and the stats summary, the
metered job store on the in-memory fake, and the tracing wrapper: pure logic, no services."""

from __future__ import annotations

import json
import time
from contextlib import contextmanager
from typing import Any, Iterator

import numpy as np
import pytest

from ragcore.domain.answers import Completion, Usage
from ragcore.domain.errors import AnswerGenerationError, DependencyUnavailableError
from ragcore.domain.jobs import Job, JobStatus, new_job
from ragcore.domain.messages import JobMessage
from ragcore.observability import metrics as m
from ragcore.observability.emf import EmfMetrics
from ragcore.observability.metered import MeteredChatModel, MeteredJobQueue, MeteredJobStore
from ragcore.observability.stats import percentile, render, summarize
from ragcore.observability.tracing import Traced
from ragcore.domain.lifecycle import Outcome
from ragcore.ports import JobRecord, QueueDepth
from tests.support.fakes import InMemoryJobStore, RecordingQueue, ScriptedChat
from tests.support.transitions import cancel, moved_to

ANSWER = {
    "answer": "It was first lit in 1874 [1].", "sources": [], "model": "gpt-test",
    "usage": {"prompt_tokens": 120, "completion_tokens": 30, "total_tokens": 150},
    "timings_ms": {"embed_ms": 7.5, "retrieval_ms": 1.5, "llm_ms": 900.0, "total_ms": 909.0},
}


class Recorder:
    def __init__(self) -> None:
        self.measurements: list[m.Measurement] = []

    def record(self, measurements: Any) -> None:
        self.measurements.extend(measurements)

    def values(self, metric: m.Metric) -> list[tuple[float, dict[str, str]]]:
        return [(x.value, x.labels()) for x in self.measurements if x.metric is metric]


def test_each_metric_has_one_cloudwatch_and_one_prometheus_name() -> None:
    assert m.JOBS_SUBMITTED.prometheus_name == "ragcore_jobs_submitted"
    assert m.QUEUE_WAIT.prometheus_name == "ragcore_queue_wait_milliseconds"
    assert m.LLM_TOKENS_IN.prometheus_name == "ragcore_llm_tokens_in"
    assert m.TOTAL_LATENCY.unit == "Milliseconds" and m.JOBS_FAILED.unit == "Count"
    assert len({x.name for x in m.CATALOGUE}) == len({x.prometheus_name for x in m.CATALOGUE}) == len(m.CATALOGUE)


def test_dimensions_are_few_and_never_a_job_id() -> None:
    assert {d for x in m.CATALOGUE for d in x.dimensions} == {"kind", "model"}
    with pytest.raises(ValueError):
        m.measure(m.JOBS_FINISHED, 1, kind="chat", job_id="0" * 32)
    with pytest.raises(ValueError):
        m.measure(m.LLM_LATENCY, 1)  # the model is required where it applies
    assert m.measure(m.LLM_LATENCY, 5, model="x" * 300).labels() == {"model": "x" * 64}


SPENT = m.spent("gpt-test", Usage(prompt_tokens=120, completion_tokens=30, total_tokens=150))


def test_a_chat_answer_becomes_stage_timings_and_a_call_its_tokens_by_model() -> None:
    found = {(x.metric.name, x.value, x.dimensions) for x in m.answered(ANSWER) + SPENT}
    model = (("model", "gpt-test"),)
    assert found == {
        ("EmbedLatency", 7.5, ()), ("RetrievalLatency", 1.5, ()), ("LlmLatency", 900.0, model),
        ("TotalLatency", 909.0, ()), ("LlmTokensIn", 120.0, model), ("LlmTokensOut", 30.0, model),
    }
    assert m.answered({"document_id": "d", "action": "created"}) == []  # a document job's result
    assert m.ended("chat", JobStatus.STARTED) == []
    assert m.queue_wait("chat", 100.0, None) == []
    assert m.queue_wait("ingest", 100.0, 100.25)[0].value == 250.0
    assert m.end_to_end("chat", 100.0, None) == []
    (e2e,) = m.end_to_end("chat", 100.0, 112.5)
    assert (e2e.metric.name, e2e.value, e2e.labels()) == ("EndToEndLatency", 12_500.0, {"kind": "chat"})


def test_emf_puts_each_dimension_set_in_its_own_document(capsys: pytest.CaptureFixture[str]) -> None:
    EmfMetrics().record(
        m.ended("chat", JobStatus.FINISHED) + m.queue_wait("chat", 1.0, 1.5) + m.answered(ANSWER) + SPENT)
    documents = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(documents) == 3
    by_dimensions = {}
    for doc in documents:
        (directive,) = doc["_aws"]["CloudWatchMetrics"]
        assert directive["Namespace"] == "ragcore"
        by_dimensions[tuple(sorted(directive["Dimensions"][0]))] = (doc, {x["Name"]: x["Unit"] for x in directive["Metrics"]})
    job_doc, job_units = by_dimensions[("kind", "service")]
    assert job_units == {"JobsFinished": "Count", "QueueWait": "Milliseconds"}
    assert job_doc["kind"] == "chat" and job_doc["service"] == "ragcore"
    assert job_doc["JobsFinished"] == [1.0] and job_doc["QueueWait"] == [500.0]
    model_doc, model_units = by_dimensions[("model", "service")]
    assert set(model_units) == {"LlmLatency", "LlmTokensIn", "LlmTokensOut"} and model_doc["model"] == "gpt-test"
    plain_doc, plain_units = by_dimensions[("service",)]
    assert set(plain_units) == {"EmbedLatency", "RetrievalLatency", "TotalLatency"}
    assert plain_doc["TotalLatency"] == [909.0]


_INTERLEAVING_SCRIPT = """
import sys, threading
from aws_lambda_powertools import Logger
from ragcore.domain.jobs import JobStatus
from ragcore.observability import metrics as m
from ragcore.observability.emf import EmfMetrics

logger, emf, rounds = Logger(service="interleave", stream=sys.stdout), EmfMetrics(), int(sys.argv[1])

def log() -> None:
    for i in range(rounds):
        logger.info("job processed", job_id=str(i))

def meter() -> None:
    for _ in range(rounds):
        emf.record(m.ended("chat", JobStatus.FINISHED) + m.queue_wait("chat", 1.0, 1.5))

threads = [threading.Thread(target=t) for t in (log, meter) * 4]
for t in threads: t.start()
for t in threads: t.join()
"""


def test_emf_lines_and_log_lines_from_many_threads_never_share_a_line() -> None:
    """Worker threads log while others write EMF: every stdout line must be one JSON
    document (Powertools' flush_metrics wrote the JSON and its newline apart)."""
    import subprocess
    import sys

    rounds = 2500
    out = subprocess.run(
        [sys.executable, "-c", _INTERLEAVING_SCRIPT, str(rounds)], capture_output=True, text=True,
        check=True, timeout=120, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": ":".join(sys.path)},
    ).stdout
    lines = out.splitlines()
    assert len(lines) == 4 * rounds * 2  # four loggers' lines, four meters' documents (one each)
    documents = [json.loads(line) for line in lines]  # each line parses as one document on its own
    assert sum("_aws" in d for d in documents) == 4 * rounds
    assert sum(d.get("message") == "job processed" for d in documents) == 4 * rounds


def test_prometheus_renders_the_same_catalogue() -> None:
    from prometheus_client.parser import text_string_to_metric_families

    from ragcore.observability.prometheus import REGISTRY, PrometheusMetrics, exposition

    def value(name: str, **labels: str) -> float:
        return REGISTRY.get_sample_value(name, labels) or 0.0

    before = value("ragcore_llm_tokens_in_total", model="gpt-test"), value(
        "ragcore_total_latency_milliseconds_count")
    PrometheusMetrics().record(m.answered(ANSWER) + SPENT + m.submitted("chat"))
    assert value("ragcore_llm_tokens_in_total", model="gpt-test") == before[0] + 120
    assert value("ragcore_total_latency_milliseconds_count") == before[1] + 1
    content_type, body = exposition()
    assert content_type.startswith("text/plain")
    families = {f.name for f in text_string_to_metric_families(body.decode())}
    assert {x.prometheus_name for x in m.CATALOGUE} <= families


def test_percentiles_interpolate_like_numpy() -> None:
    values = [float(v) for v in (12, 3, 7, 100, 45, 8, 9, 61, 2, 30, 30)]
    for p in (0, 50, 95, 99, 100):
        assert percentile(values, p / 100) == pytest.approx(float(np.percentile(values, p)))
    assert percentile([], 0.5) is None
    assert percentile([4.0], 0.99) == 4.0
    with pytest.raises(ValueError):
        percentile(values, 1.01)


def test_percentiles_of_five_values() -> None:
    # Moved from test_eval_metrics, which asserted the nearest-rank p95 (5.0): the one
    # percentile interpolates between ranks, so the same data's p95 is 4.8 everywhere.
    values = [5.0, 1.0, 3.0, 2.0, 4.0]
    assert percentile(values, 0.5) == 3.0
    assert percentile(values, 0.95) == pytest.approx(4.8)
    assert percentile(values, 0.0) == 1.0


def test_stats_count_jobs_by_kind_and_state_and_take_latencies_from_finished_chats() -> None:
    records = [
        JobRecord("chat", JobStatus.FINISHED, 10.0, 10.1, {"retrieval_ms": 2.0, "llm_ms": 100.0, "total_ms": 110.0},
                  finished_at=10.3),
        # Redriven an hour later: its queue wait counts from the requeue, its end to end from submission.
        JobRecord("chat", JobStatus.FINISHED, 20.0 - 3600, 20.3, {"retrieval_ms": 4.0, "llm_ms": 300.0,
                  "total_ms": 310.0}, queued_at=20.0, finished_at=20.7),
        JobRecord("chat", JobStatus.QUEUED, 30.0),
        JobRecord("chat", JobStatus.FAILED, 40.0, 41.0),
        JobRecord("ingest", JobStatus.FINISHED, 50.0, 50.2),
    ]
    stats = summarize(records, {"jobs": QueueDepth(3, 1), "jobs-dlq": QueueDepth(2, 0)})
    assert stats.jobs == {
        "chat": {"queued": 1, "started": 0, "finished": 2, "failed": 1, "stopped": 0},
        "ingest": {"queued": 0, "started": 0, "finished": 1, "failed": 0, "stopped": 0},
    }
    assert stats.latencies["queue_wait_ms"].count == 4
    assert stats.latencies["queue_wait_ms"].p50 == pytest.approx(250.0)
    assert (stats.latencies["llm_ms"].count, stats.latencies["llm_ms"].p50) == (2, 200.0)
    assert stats.latencies["total_ms"].p99 == pytest.approx(308.0)
    end_to_end = stats.latencies["end_to_end_ms"]
    assert (end_to_end.count, end_to_end.p50) == (2, pytest.approx((300.0 + 3_600_700.0) / 2))
    text = render(stats)
    assert "jobs-dlq" in text and "queue_wait_ms" in text
    assert json.loads(json.dumps(stats.as_dict()))["queues"]["jobs"] == {"visible": 3, "in_flight": 1, "delayed": 0}


def _queued(store: InMemoryJobStore, kind: str = "chat", age: float = 2.0) -> Job:
    job = new_job(kind, {"query": "q"}, 600).model_copy(update={"created_at": time.time() - age})
    store.create(job)
    return job


def test_the_metered_store_counts_each_job_once_however_often_it_is_delivered() -> None:
    inner, sink = InMemoryJobStore(), Recorder()
    store = MeteredJobStore(inner, sink)
    job = _queued(inner)
    claim = store.claim(job.job_id, 60)
    assert store.claim(job.job_id, 60).outcome is Outcome.BUSY  # a duplicate delivery
    assert moved_to(store.finish(job.job_id, claim.attempt, ANSWER)) is JobStatus.FINISHED
    assert moved_to(store.finish(job.job_id, claim.attempt, ANSWER)) is None  # a late repeat changes nothing
    store.claim(job.job_id, 60)  # a redelivery of a finished job
    (wait,) = sink.values(m.QUEUE_WAIT)
    assert wait[1] == {"kind": "chat"} and 1900 < wait[0] < 10_000
    assert sink.values(m.JOBS_FINISHED) == [(1.0, {"kind": "chat"})]
    ((e2e, labels),) = sink.values(m.END_TO_END_LATENCY)  # submission -> finished: what the user waited
    assert labels == {"kind": "chat"} and e2e >= wait[0]
    assert sink.values(m.TOTAL_LATENCY) == [(909.0, {})]
    assert sink.values(m.LLM_TOKENS_OUT) == []  # counted by the LLM call, not the store
    assert store.get(job.job_id).status is JobStatus.FINISHED  # everything else passes through


def test_the_metered_store_counts_each_retry_and_a_stop_that_ends_one() -> None:
    inner, sink = InMemoryJobStore(), Recorder()
    store = MeteredJobStore(inner, sink)
    job = _queued(inner)
    claim = store.claim(job.job_id, 60)
    assert moved_to(store.retry_later(job.job_id, claim.attempt, "llm down", time.time() + 10)) is JobStatus.QUEUED
    assert sink.values(m.JOBS_RETRIED) == [(1.0, {"kind": "chat"})]
    stale, claim = claim, store.claim(job.job_id, 60)
    assert moved_to(store.retry_later(job.job_id, stale.attempt, "a late repeat", time.time())) is None
    store.request_cancel(job.job_id)  # flagged while the second attempt runs, which then fails
    assert moved_to(store.retry_later(job.job_id, claim.attempt, "llm down", time.time())) is JobStatus.STOPPED
    assert sink.values(m.JOBS_RETRIED) == [(1.0, {"kind": "chat"})]
    assert sink.values(m.JOBS_STOPPED) == [(1.0, {"kind": "chat"})]


def test_a_redriven_job_waits_in_the_queue_from_its_requeue_and_counts_its_failure_and_its_finish() -> None:
    inner, sink = InMemoryJobStore(), Recorder()
    store = MeteredJobStore(inner, sink)
    job = _queued(inner, age=2.0)
    store.fail(job.job_id, store.claim(job.job_id, 60).attempt, "gave up")
    inner.jobs[job.job_id].created_at -= 3 * 3600  # it lay dead-lettered for hours before the redrive
    assert moved_to(store.requeue(job.job_id, time.time() + 600)) is JobStatus.QUEUED
    claim = store.claim(job.job_id, 60)
    assert claim.attempt == 1  # attempts count afresh after a redrive
    store.finish(job.job_id, claim.attempt, ANSWER)
    first, second = sink.values(m.QUEUE_WAIT)
    assert 1900 < first[0] < 10_000 and second[0] < 1000  # not the hours before the redrive
    assert sink.values(m.JOBS_FAILED) == sink.values(m.JOBS_FINISHED) == [(1.0, {"kind": "chat"})]
    ((e2e, _),) = sink.values(m.END_TO_END_LATENCY)
    assert e2e > 3 * 3600 * 1000  # the user did wait all along


def test_the_metered_chat_model_counts_every_completed_call_whatever_becomes_of_the_job() -> None:
    sink = Recorder()
    chat = MeteredChatModel(ScriptedChat(), sink)
    completion = chat.complete([{"role": "user", "content": "q"}])
    assert isinstance(completion, Completion)
    usage = completion.usage
    spent = Completion(text="", model="gpt-test", usage=Usage(prompt_tokens=70, completion_tokens=0))
    with pytest.raises(AnswerGenerationError):  # completed, and billed, but unusable
        MeteredChatModel(ScriptedChat(error=AnswerGenerationError("empty", spent=spent)), sink).complete([])
    with pytest.raises(DependencyUnavailableError):  # never completed: nothing spent
        MeteredChatModel(ScriptedChat(error=DependencyUnavailableError("llm")), sink).complete([])
    assert sink.values(m.LLM_TOKENS_IN) == [
        (float(usage.prompt_tokens), {"model": completion.model}), (70.0, {"model": "gpt-test"})]
    assert sink.values(m.LLM_TOKENS_OUT) == [(float(usage.completion_tokens), {"model": completion.model}),
                                             (0.0, {"model": "gpt-test"})]


def test_the_metered_store_counts_failures_and_stops_by_kind() -> None:
    inner, sink = InMemoryJobStore(), Recorder()
    store = MeteredJobStore(inner, sink)
    failing, stopped_queued, stopped_started = _queued(inner, "ingest"), _queued(inner), _queued(inner)
    store.fail(failing.job_id, store.claim(failing.job_id, 60).attempt, "broken")
    assert cancel(store, stopped_queued.job_id) == (JobStatus.STOPPED, True)
    assert cancel(store, stopped_queued.job_id) == (JobStatus.STOPPED, False)  # asked twice: counted once
    attempt = store.claim(stopped_started.job_id, 60).attempt
    assert cancel(store, stopped_started.job_id) == (JobStatus.STARTED, False)  # flagged, not stopped yet
    assert store.honour_cancel(stopped_started.job_id, attempt).moved
    assert sink.values(m.JOBS_FAILED) == [(1.0, {"kind": "ingest"})]
    assert sink.values(m.JOBS_STOPPED) == [(1.0, {"kind": "chat"}), (1.0, {"kind": "chat"})]
    assert sink.values(m.JOBS_FINISHED) == []


def test_a_broken_sink_never_fails_the_job() -> None:
    class Broken:
        def record(self, measurements: Any) -> None:
            raise RuntimeError("sink down")

    inner = InMemoryJobStore()
    store = MeteredJobStore(inner, Broken())
    job = _queued(inner)
    assert moved_to(store.finish(job.job_id, store.claim(job.job_id, 60).attempt, ANSWER)) is JobStatus.FINISHED


def test_the_metered_queue_counts_only_sent_jobs() -> None:
    sink = Recorder()
    MeteredJobQueue(RecordingQueue(), sink).send(JobMessage(job_id="a" * 32, kind="ingest"))
    with pytest.raises(RuntimeError):
        MeteredJobQueue(RecordingQueue(error=RuntimeError("down")), sink).send(JobMessage(job_id="b" * 32))
    assert sink.values(m.JOBS_SUBMITTED) == [(1.0, {"kind": "ingest"})]


def test_the_metered_queue_counts_the_messages_a_batch_sent() -> None:
    sink = Recorder()
    messages = [JobMessage(job_id=f"{i:032x}") for i in range(4)]
    unsent = MeteredJobQueue(RecordingQueue(refuse=[1]), sink).send_batch(messages)
    assert unsent == [messages[1]]
    assert sink.values(m.JOBS_SUBMITTED) == [(1.0, {"kind": "chat"})] * 3


def test_traced_adapters_open_one_subsegment_per_call() -> None:
    opened: list[tuple[str, dict[str, str]]] = []

    class Subsegment:
        def __init__(self, name: str) -> None:
            self.annotations: dict[str, str] = {}
            opened.append((name, self.annotations))

        def put_annotation(self, key: str, value: str) -> None:
            self.annotations[key] = value

    @contextmanager
    def open_subsegment(name: str) -> Iterator[Subsegment]:
        yield Subsegment(name)

    class Embedder:
        dimension = 384

        def embed(self, texts: list[str]) -> list[list[float]]:
            return [[1.0] for _ in texts]

    embedder: Any = Traced(Embedder(), "embedding", open_subsegment)
    assert embedder.dimension == 384  # attributes pass through untouched
    assert embedder.embed(["a", "b"]) == [[1.0], [1.0]]
    assert opened == [("## embedding.embed", {"dependency": "embedding"})]


def test_the_tracer_is_off_outside_lambda_and_adapters_stay_unwrapped() -> None:
    from ragcore.observability.tracing import traced, tracer

    adapter = object()
    assert tracer().disabled
    assert traced(adapter, "valkey") is adapter
