"""Long work in the background: a job runs a function in a worker thread and reports progress; the page polls.

    >>> job = ctx.jobs.submit("train", lambda job: work(job))   # in an endpoint: return {"job": job.id}
    >>> def work(job):
    ...     for i in range(10):
    ...         job.progress(i / 10, f"step {i + 1} of 10")       # raises JobCancelled once cancelled
    ...         ...
    ...     return {"accuracy": 0.9}                              # JSON-serialisable: the job's "result"

``GET /api/jobs/{id}`` (in :mod:`.app`) reads a job's state, ``DELETE /api/jobs/{id}`` asks it to stop (the function sees
``job.cancelled``, or :meth:`Job.progress` / :meth:`Job.check` raise :class:`JobCancelled`). A function that raises a
:class:`~vidact.errors.VidactError` fails with that one-line message; any other exception fails with
``internal error: <type>`` (its traceback goes to the server's log, never to the client).
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from ...errors import VidactError

__all__ = ["Job", "JobManager", "JobCancelled", "JobNotFound", "TooManyJobs"]

log = logging.getLogger("vidact.explore")

#: A job's states. ``running`` covers a job whose function has not returned yet (a cancelled job stays
#: ``running`` until its function notices).
STATES = ("running", "done", "failed", "cancelled")


class JobCancelled(Exception):
    """Raised inside a job's function (by :meth:`Job.progress` or :meth:`Job.check`) once the job is cancelled."""


class JobNotFound(VidactError):
    """A job id that this server does not know (never started, or forgotten after it ended): HTTP 404."""

    http_status = 404


class TooManyJobs(VidactError):
    """More jobs running at once than the server allows: HTTP 429."""

    http_status = 429


class Job:
    """One background job: its state, progress and result, safe to read from any thread.

    Attributes:
        id: random URL-safe id.
        kind: what it does, in a word (``"train"``, ``"predict"``).
    """

    def __init__(self, kind: str) -> None:
        self.id = secrets.token_urlsafe(9)
        self.kind = kind
        self._lock = threading.Lock()
        self._cancel = threading.Event()
        self._finished = threading.Event()
        self._state = "running"
        self._progress = 0.0
        self._message = "starting"
        self._result: Any = None
        self._error: str | None = None
        self.started = time.monotonic()
        self.ended: float | None = None

    @property
    def cancelled(self) -> bool:
        """Whether a cancel was asked for (the function should stop soon)."""
        return self._cancel.is_set()

    @property
    def state(self) -> str:
        """One of :data:`STATES`."""
        with self._lock:
            return self._state

    def progress(self, fraction: float, message: str = "") -> None:
        """Report progress.

        Args:
            fraction: done so far, clipped to [0, 1].
            message: one short line ("epoch 2 of 5").

        Raises:
            JobCancelled: the job was cancelled (so a loop that reports progress stops by itself).
        """
        with self._lock:
            self._progress = min(1.0, max(0.0, float(fraction)))
            if message:
                self._message = str(message)
        self.check()

    def check(self) -> None:
        """Raise :class:`JobCancelled` when the job was cancelled."""
        if self._cancel.is_set():
            raise JobCancelled()

    def cancel(self) -> None:
        """Ask the job to stop; it ends ``cancelled`` when its function returns or raises."""
        self._cancel.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job ended (for tests and the CLI); whether it did within ``timeout`` seconds."""
        return self._finished.wait(timeout)

    def _run(self, fn: Callable[[Job], Any]) -> None:
        try:
            result = fn(self)
        except JobCancelled:
            self._end("cancelled", message="cancelled")
        except VidactError as e:
            if self.cancelled:
                self._end("cancelled", message="cancelled")
            else:
                self._end("failed", error=one_line(e))
        except Exception as e:  # a bug: the log gets the traceback, the client one line
            log.exception("job %s (%s) failed", self.id, self.kind)
            self._end("failed", error=f"internal error: {type(e).__name__}")
        else:
            if self.cancelled:
                self._end("cancelled", message="cancelled")
            else:
                self._end("done", result=result, progress=1.0, message="done")

    def _end(self, state: str, *, result: Any = None, error: str | None = None, **kw: Any) -> None:
        with self._lock:
            self._state = state
            self._result = result
            self._error = error
            if "progress" in kw:
                self._progress = kw["progress"]
            if kw.get("message"):
                self._message = kw["message"]
            elif error:
                self._message = error
            self.ended = time.monotonic()
        self._finished.set()

    def to_json(self) -> dict[str, Any]:
        """``{"id", "kind", "state", "progress", "message"}`` plus ``"result"`` when done, ``"error"`` when failed."""
        with self._lock:
            out: dict[str, Any] = {
                "id": self.id,
                "kind": self.kind,
                "state": self._state,
                "progress": round(self._progress, 4),
                "message": self._message,
            }
            if self._state == "done":
                out["result"] = self._result
            if self._state == "failed":
                out["error"] = self._error
        return out


def one_line(e: BaseException) -> str:
    """An exception's message as one line (whitespace collapsed), or its type's name when it has none."""
    text = " ".join(str(e).split())
    return text or type(e).__name__


class JobManager:
    """The server's jobs: started in daemon threads, remembered a while after they end.

    Args:
        max_running: jobs allowed to run at once; one more is refused with :class:`TooManyJobs`.
        keep: ended jobs remembered (the oldest are forgotten first).
    """

    def __init__(self, *, max_running: int = 4, keep: int = 64) -> None:
        self.max_running = max_running
        self.keep = keep
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._lock = threading.Lock()

    def submit(self, kind: str, fn: Callable[[Job], Any]) -> Job:
        """Start ``fn(job)`` in a new thread and return the job at once.

        Args:
            kind: a word naming the work (shown by the page).
            fn: the work; reports with ``job.progress`` and returns a JSON-serialisable result.

        Raises:
            TooManyJobs: ``max_running`` jobs are running already.
        """
        job = Job(kind)
        with self._lock:
            running = sum(1 for j in self._jobs.values() if j.state == "running")
            if running >= self.max_running:
                raise TooManyJobs(
                    f"{running} jobs are running already (at most {self.max_running}): wait or cancel one"
                )
            self._jobs[job.id] = job
            self._forget_old()
        threading.Thread(target=job._run, args=(fn,), name=f"vidact-job-{kind}", daemon=True).start()
        return job

    def _forget_old(self) -> None:
        ended = [k for k, j in self._jobs.items() if j.state != "running"]
        for k in ended[: max(0, len(ended) - self.keep)]:
            del self._jobs[k]

    def get(self, job_id: str) -> Job:
        """The job with this id.

        Raises:
            JobNotFound: no such job.
        """
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise JobNotFound(f"no job {job_id[:40]!r} (it never started, or ended long ago)")
        return job

    def cancel(self, job_id: str) -> Job:
        """Ask a job to stop (see :meth:`Job.cancel`); returns it.

        Raises:
            JobNotFound: no such job.
        """
        job = self.get(job_id)
        job.cancel()
        return job

    def shutdown(self, timeout: float = 5.0) -> None:
        """Cancel every running job and wait up to ``timeout`` seconds in all for them to end."""
        with self._lock:
            jobs = list(self._jobs.values())
        for job in jobs:
            job.cancel()
        deadline = time.monotonic() + timeout
        for job in jobs:
            job.wait(max(0.0, deadline - time.monotonic()))
