"""Background jobs: progress, result, one-line failures, cancel; the /api/jobs endpoints."""

from __future__ import annotations

import threading
import time

import pytest

from vidact.demo.explore.jobs import Job, JobCancelled, JobManager, JobNotFound, TooManyJobs
from vidact.errors import ConfigError


def _wait(job: Job) -> dict:
    assert job.wait(10), "the job did not end"
    return job.to_json()


def test_a_job_reports_progress_and_its_result() -> None:
    jobs = JobManager()
    go = threading.Event()
    seen = threading.Event()

    def work(job: Job) -> dict:
        job.progress(0.5, "half way")
        seen.set()
        go.wait(10)
        return {"answer": 42}

    job = jobs.submit("demo", work)
    assert seen.wait(10)
    mid = jobs.get(job.id).to_json()
    assert mid["state"] == "running" and mid["progress"] == 0.5 and mid["message"] == "half way"
    assert "result" not in mid
    go.set()
    end = _wait(job)
    assert end == {
        "id": job.id,
        "kind": "demo",
        "state": "done",
        "progress": 1.0,
        "message": "done",
        "result": {"answer": 42},
    }


def test_a_vidact_error_fails_the_job_with_its_one_line() -> None:
    def work(job: Job) -> None:
        raise ConfigError("bad\nrecipe:   no such key")

    end = _wait(JobManager().submit("demo", work))
    assert end["state"] == "failed" and end["error"] == "bad recipe: no such key"
    assert "result" not in end


def test_a_bug_fails_the_job_without_its_traceback(caplog: pytest.LogCaptureFixture) -> None:
    def work(job: Job) -> None:
        raise KeyError("secret detail")

    end = _wait(JobManager().submit("demo", work))
    assert end["state"] == "failed" and end["error"] == "internal error: KeyError"
    assert "secret detail" not in str(end)
    assert any("secret detail" in r.getMessage() or r.exc_info for r in caplog.records)


def test_cancel_stops_a_job_at_its_next_progress() -> None:
    jobs = JobManager()
    steps = []

    def work(job: Job) -> None:
        for i in range(1000):
            job.progress(i / 1000, f"step {i}")
            steps.append(i)
            time.sleep(0.005)

    job = jobs.submit("loop", work)
    while not steps:
        time.sleep(0.01)
    jobs.cancel(job.id)
    end = _wait(job)
    assert end["state"] == "cancelled" and len(steps) < 1000


def test_a_job_that_returns_after_cancel_is_cancelled() -> None:
    def work(job: Job) -> str:
        while not job.cancelled:
            time.sleep(0.01)
        return "stopped by itself"

    jobs = JobManager()
    job = jobs.submit("poll", work)
    job.cancel()
    assert _wait(job)["state"] == "cancelled"
    with pytest.raises(JobCancelled):
        job.check()


def test_unknown_jobs_and_too_many_jobs() -> None:
    jobs = JobManager(max_running=1)
    with pytest.raises(JobNotFound):
        jobs.get("nope")
    release = threading.Event()
    first = jobs.submit("slow", lambda job: release.wait(10))
    with pytest.raises(TooManyJobs, match="at most 1"):
        jobs.submit("slow", lambda job: None)
    release.set()
    _wait(first)
    _wait(jobs.submit("next", lambda job: None))  # room again


def test_ended_jobs_are_forgotten_beyond_keep() -> None:
    jobs = JobManager(keep=2)
    done = [jobs.submit("n", lambda job: None) for _ in range(4)]
    for j in done:
        _wait(j)
    jobs.submit("n", lambda job: None).wait(10)
    with pytest.raises(JobNotFound):
        jobs.get(done[0].id)


def test_shutdown_cancels_running_jobs() -> None:
    jobs = JobManager()
    job = jobs.submit("forever", lambda job: [job.progress(0.1) or time.sleep(0.01) for _ in iter(int, 1)])
    jobs.shutdown(timeout=5)
    assert job.state == "cancelled"


def test_the_jobs_endpoints(app, client) -> None:
    ctx = app.state.ctx
    release = threading.Event()

    def work(job: Job) -> dict:
        job.progress(0.25, "a quarter")
        release.wait(10)
        job.check()
        return {"n": 3}

    job = ctx.jobs.submit("api", work)
    while job.to_json()["progress"] < 0.25:
        time.sleep(0.01)
    r = client.get(f"/api/jobs/{job.id}")
    assert r.status_code == 200
    assert r.json() == {
        "id": job.id,
        "kind": "api",
        "state": "running",
        "progress": 0.25,
        "message": "a quarter",
    }
    release.set()
    job.wait(10)
    assert client.get(f"/api/jobs/{job.id}").json()["result"] == {"n": 3}

    release.clear()
    job2 = ctx.jobs.submit("api", work)
    r = client.delete(f"/api/jobs/{job2.id}")
    assert r.status_code == 200 and r.json()["id"] == job2.id
    release.set()
    job2.wait(10)
    assert client.get(f"/api/jobs/{job2.id}").json()["state"] == "cancelled"

    for method in (client.get, client.delete):
        r = method("/api/jobs/no-such-job")
        assert r.status_code == 404 and r.json() == {
            "error": "no job 'no-such-job' (it never started, or ended long ago)"
        }
