"""The worker thread that owns the model: items of concurrent requests are predicted together."""
from __future__ import annotations

import queue
import sys
import threading
import time
import traceback

from .errors import HTTPError

INTERNAL_ERROR = "internal error while predicting; the server log has the details"


class _Job:
    __slots__ = ("items", "event", "results", "error")

    def __init__(self, items):
        self.items, self.event, self.results, self.error = items, threading.Event(), None, None


class Batcher:
    """One worker thread owning the model: concurrent jobs' items are predicted together, at most
    ``max_batch`` per predict (a larger single job is cut into several)."""

    def __init__(self, handler, max_batch=32, batch_timeout_ms=5.0):
        self.handler, self.max_batch, self.timeout = handler, int(max_batch), float(batch_timeout_ms) / 1000.0
        self.queue = queue.Queue()
        self.stats = {"requests": 0, "items": 0, "batches": 0}
        self._carry, self._stopping = None, False
        self.thread = threading.Thread(target=self._loop, name="zoo-serve-worker", daemon=True)
        self.thread.start()

    def submit(self, items, timeout=300.0):
        """Per-item results of ``items``; raises HTTPError (500 on a failed predict, 503 when stopping)."""
        if self._stopping:
            raise HTTPError(503, "the server is shutting down")
        job = _Job(items)
        self.queue.put(job)
        deadline = time.monotonic() + timeout
        while not job.event.wait(0.5):
            if not self.thread.is_alive():
                raise HTTPError(503, "the server is shutting down")
            if time.monotonic() > deadline:
                raise HTTPError(503, f"the model did not answer within {timeout:g} s; try again later")
        if job.error is not None:
            raise job.error
        return job.results

    def stop(self, timeout=10.0):
        """Finish the queued jobs, then end the worker."""
        self._stopping = True
        self.queue.put(None)
        self.thread.join(timeout)

    def _next(self, block_for):
        if self._carry is not None:
            job, self._carry = self._carry, None
            return job
        if block_for is None:
            return self.queue.get()
        if block_for <= 0:
            return self.queue.get_nowait()
        return self.queue.get(timeout=block_for)

    def _loop(self):
        done = False
        while not done:
            job = self._next(None)
            if job is None:
                break
            jobs, n = [job], len(job.items)
            deadline = time.monotonic() + self.timeout
            while n < self.max_batch:
                try:
                    nxt = self._next(deadline - time.monotonic())
                except queue.Empty:
                    break
                if nxt is None:
                    done = True
                    break
                if n + len(nxt.items) > self.max_batch:
                    self._carry = nxt  # the next batch starts with it
                    break
                jobs.append(nxt)
                n += len(nxt.items)
            self._run(jobs)
        pending = [self._carry] if self._carry is not None else []
        self._carry = None
        while True:  # stopping: answer what is still queued
            job = self._get_nowait()
            if job is None:
                break
            pending.append(job)
        for job in pending:
            self._run([job])

    def _get_nowait(self):
        while True:
            try:
                job = self.queue.get_nowait()
            except queue.Empty:
                return None
            if job is not None:
                return job

    def _run(self, jobs):
        items = [it for j in jobs for it in j.items]
        try:
            results = []
            for s in range(0, len(items), self.max_batch):
                chunk = items[s:s + self.max_batch]
                out = self.handler.predict(chunk)
                if len(out) != len(chunk):
                    raise RuntimeError(f"predict returned {len(out)} results for {len(chunk)} items")
                results.extend(out)
                self.stats["batches"] += 1
            self.stats["items"] += len(items)
            self.stats["requests"] += len(jobs)
            start = 0
            for j in jobs:
                j.results = results[start:start + len(j.items)]
                start += len(j.items)
        except Exception:
            if len(jobs) > 1:  # one request's items may be the cause: answer each request on its own
                for j in jobs:
                    self._run([j])
                return
            sys.stderr.write("zoo serve: predict failed:\n" + traceback.format_exc())
            sys.stderr.flush()
            jobs[0].error = HTTPError(500, INTERNAL_ERROR)
        for j in jobs:
            j.event.set()

    def mean_batch_size(self):
        return self.stats["items"] / self.stats["batches"] if self.stats["batches"] else 0.0
