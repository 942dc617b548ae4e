"""Run many pieces of Paddle work in spawned worker processes, surviving crashes inside Paddle.

Paddle keeps global state, and in Paddle 3.3.1 a failed ``to_static`` build
can make the next build in the same process segfault; an eager conv with an
empty output corrupts the heap.  Work on many user models is therefore split
into tasks run by spawned workers that are replaced after a few tasks.  A
worker that dies breaks the pool: the unfinished tasks are retried in a fresh
pool, one at a time (so a task that merely ran beside the culprit succeeds),
and a task that was running in two broken pools is reported through
``crashed(task, reason)`` instead of being retried forever.

``run`` and ``crashed`` must be module-level functions (picklable) and
``run(task)`` must not raise (catch and return a result describing the error).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["run_isolated", "Progress", "quiet", "one_line"]

Progress = Callable[[str], None]
"""A long check's progress callback: one line of text per step (the CLI prints it on stderr)."""


def quiet(_: str) -> None:
    """The progress callback that says nothing."""
    return None


def one_line(text: str) -> str:
    """A task's reason (an exception's message, Paddle's refusal) on one line of at most 240 characters."""
    text = " ".join(text.split())
    return text if len(text) <= 240 else text[:237] + "..."

CRASHED_TWICE = "the worker process crashed twice while checking it (a fault inside Paddle)"


def _ignore_sigint() -> None:
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and stops the pool


def _worker(run: Callable[[Any], Any], task: Any, paddle: bool = True) -> Any:
    """``run(task)`` in a worker: Paddle's fatal-signal report is silenced for the pool's SIGTERM."""
    import signal

    if paddle:
        import paddle as _paddle  # noqa: F401 - installs Paddle's signal handlers, replaced next

    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    return run(task)


def run_isolated(tasks: Sequence[Any], run: Callable[[Any], Any], crashed: Callable[[Any, str], Any],
                 jobs: int, cost: Callable[[Any], int] = lambda task: 1, tasks_per_child: int = 4,
                 inline: bool | None = None, paddle: bool = True) -> list:
    """``[run(t) for t in tasks]``, in up to ``jobs`` spawned workers, longest (``cost``) first.

    ``inline`` (default: ``jobs <= 1`` or a single task) runs in this process instead; ``paddle=False``
    for work that does not use Paddle (its import is skipped in the workers).
    """
    if inline is None:
        inline = jobs <= 1 or len(tasks) <= 1
    if inline:
        return [run(t) for t in tasks]
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    jobs = max(1, jobs)
    pending = sorted(range(len(tasks)), key=lambda i: -cost(tasks[i]))
    results: dict[int, Any] = {}
    strikes: dict[int, int] = {}
    ctx = multiprocessing.get_context("spawn")
    width = jobs  # after a crash, one task at a time: a task that was only beside the culprit then runs
    while pending:
        pool = ProcessPoolExecutor(min(width, len(pending)), mp_context=ctx, initializer=_ignore_sigint,
                                   max_tasks_per_child=tasks_per_child)
        futures: dict = {}
        broken = False
        try:
            queue = list(pending)
            while queue or futures:
                while queue and len(futures) < width:  # submit lazily: a crash loses only running tasks
                    i = queue.pop(0)
                    futures[pool.submit(_worker, run, tasks[i], paddle)] = i
                done, _ = wait(futures, return_when=FIRST_COMPLETED)
                for fut in done:
                    i = futures.pop(fut)
                    try:
                        results[i] = fut.result()
                    except BrokenProcessPool:
                        broken = True
                        strikes[i] = strikes.get(i, 0) + 1
                if broken:
                    for i in futures.values():
                        strikes[i] = strikes.get(i, 0) + 1
                    break
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            for proc in list((getattr(pool, "_processes", None) or {}).values()):
                proc.terminate()
            raise
        pool.shutdown(wait=not broken, cancel_futures=True)
        if broken:
            width = 1
        pending = [i for i in pending if i not in results]
        for i in list(pending):
            if strikes.get(i, 0) >= 2:
                results[i] = crashed(tasks[i], CRASHED_TWICE)
                pending.remove(i)
    return [results[i] for i in range(len(tasks))]
