"""Timing helpers: a poller that records (time, jobs done) until a run is complete."""

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

POLL_S = 0.02


@dataclass
class RunResult:
    name: str
    jobs: int
    elapsed_s: float
    samples: list[tuple[float, int]] = field(default_factory=list)
    notes: dict[str, str] = field(default_factory=dict)
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds per part of the system
    pg_sessions: int | None = None  # PostgreSQL sessions opened during the run

    def cpu_ms_per_job(self, part: str) -> float | None:
        return self.cpu[part] * 1000 / self.jobs if part in self.cpu else None

    @property
    def jobs_per_s(self) -> float:
        return self.jobs / self.elapsed_s if self.elapsed_s > 0 else float("nan")

    def steady_rate(self, low: float = 0.1, high: float = 0.9) -> float | None:
        """Jobs/s between `low` and `high` of the jobs done: the drain rate without the
        start-up (batch creation, enqueueing, warm pools) and the tail."""
        lo_n, hi_n = self.jobs * low, self.jobs * high
        first = next(((t, n) for t, n in self.samples if n >= lo_n), None)
        last = next(((t, n) for t, n in self.samples if n >= hi_n), None)
        if first is None or last is None or last[0] <= first[0]:
            return None
        return (last[1] - first[1]) / (last[0] - first[0])


class Poller:
    """Calls `done()` every POLL_S seconds or so from a thread, from `start` until
    `finished()` holds on two consecutive polls (so a message in flight between two Redis
    keys is not missed); the end time is the first of those two polls. Gives up after
    `idle_timeout` seconds without progress."""

    def __init__(
        self,
        *,
        done: Callable[[], int],
        finished: Callable[[int], bool],
        idle_timeout: float = 120.0,
    ) -> None:
        self._done = done
        self._finished = finished
        self._idle_timeout = idle_timeout
        self.samples: list[tuple[float, int]] = []
        self.end: float | None = None
        self.error: str | None = None
        self.start = time.perf_counter()
        self._thread = threading.Thread(target=self._run, name="bench-poller", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        candidate: float | None = None
        last_progress, last_n = time.perf_counter(), -1
        while True:
            now = time.perf_counter()
            n = self._done()
            self.samples.append((now - self.start, n))
            if n != last_n:
                last_progress, last_n = now, n
            if self._finished(n):
                if candidate is not None:
                    self.end = candidate
                    return
                candidate = now
            else:
                candidate = None
            if now - last_progress > self._idle_timeout:
                self.error = f"no progress for {self._idle_timeout:.0f}s at {n} jobs done"
                return
            # 20 ms resolution, coarsening to 0.2 % of the elapsed time on long runs so that
            # polling stays negligible next to what it measures.
            time.sleep(min(0.2, max(POLL_S, (now - self.start) / 500)))

    def wait(self) -> float:
        """Seconds from start to the end of the run."""
        self._thread.join()
        if self.end is None:
            raise RuntimeError(self.error or "the poller stopped without an end")
        return self.end - self.start
