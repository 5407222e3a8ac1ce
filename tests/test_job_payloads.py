"""Jobs are kept in Redis as JSON, never pickle: what the app enqueues reads as JSON in the raw
job hash, the real worker still runs it end to end, and a pickled payload planted in Redis fails
its job without running anything."""

from __future__ import annotations

import json
import os
import pickle
import zlib
from base64 import b64decode
from datetime import timedelta

import pytest
from rq.job import JobStatus

from jobs import PLANNING_QUEUE
from jobs.reminders import run_sweep
from tests.support import NOW, ask_for_reset, make_reminders, make_user
from webapp.extensions import queues


def _raw_job(redis_client, job_id: str) -> dict[str, bytes]:
    return {key.decode(): value for key, value in redis_client.hgetall(f"rq:job:{job_id}").items()}


def _payload(raw: dict[str, bytes]):
    return json.loads(zlib.decompress(raw["data"]))


def test_a_job_the_app_enqueues_is_json_in_redis_and_the_worker_runs_it(
    smtp_sink, app, client, redis_client, run_worker_process
):
    make_user("ada@example.com")
    ask_for_reset(client, "ada@example.com")  # the response's close asks a worker to hand it out

    [job_id] = queues.queue(PLANNING_QUEUE).job_ids
    raw = _raw_job(redis_client, job_id)
    assert _payload(raw) == ["jobs.reminders.hand_out_mail", None, [], {}]

    run_worker_process()
    [mail] = smtp_sink.received
    assert mail.to == "ada@example.com" and mail.subject == "Reset your Tasklane password"
    [(_, result)] = redis_client.xrange(f"rq:results:{job_id}")
    assert json.loads(b64decode(result[b"return_value"])) == 1  # its result, JSON too: one mail


def test_a_queued_sweep_takes_its_clock_as_iso_text_and_refuses_a_datetime(
    smtp_sink, app, redis_client, run_worker_process
):
    make_reminders(make_user(), 2, NOW - timedelta(minutes=1))
    queue = queues.queue(PLANNING_QUEUE)
    with pytest.raises(TypeError):
        queue.enqueue(run_sweep, NOW)  # an object is not JSON: refused before it reaches Redis

    job = queue.enqueue(run_sweep, NOW.isoformat())
    assert _payload(_raw_job(redis_client, job.id))[2] == [NOW.isoformat()]
    run_worker_process()
    assert len(smtp_sink.received) == 2


class _WritesAFile:
    """Unpickling this creates a file: what an attacker's payload would do, harmlessly."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (os.mkdir, (self.path,))


def test_a_pickled_payload_planted_in_redis_fails_its_job_without_running(
    app, redis_client, run_worker_process, tmp_path
):
    pickle.loads(pickle.dumps(_WritesAFile(str(tmp_path / "proof"))))
    assert (tmp_path / "proof").exists(), "the payload would run if unpickled"
    marker = tmp_path / "unpickled"
    job = queues.queue("default").enqueue("jobs.maintenance.purge_expired_records")
    planted = pickle.dumps(("os.getcwd", None, [_WritesAFile(str(marker))], {}))
    redis_client.hset(f"rq:job:{job.id}", "data", zlib.compress(planted))

    run_worker_process("default")

    assert not marker.exists(), "the worker unpickled the planted payload"
    job.refresh()
    assert job.get_status() == JobStatus.FAILED
    assert "DeserializationError" in job.latest_result().exc_string
