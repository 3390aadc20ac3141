"""Independent pieces of numpy work on the cores this process may use.

numpy releases the GIL inside its array operations, so pieces of work on separate arrays (the
windows' chunks of sessions, the oracle's batches) run side by side in threads. Each piece
computes exactly what it would alone and the results come back in order, so the output is the
same bytes whatever the number of threads.
"""

from __future__ import annotations

import os
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar, overload

Item = TypeVar("Item")
Result = TypeVar("Result")
First = TypeVar("First")
Second = TypeVar("Second")
Third = TypeVar("Third")
Fourth = TypeVar("Fourth")


def usable_cores() -> int:
    """The cores this process may run on (its affinity: a process pinned to one core gets one thread)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def map_in_threads(work: Callable[[Item], Result], items: Iterable[Item]) -> list[Result]:
    """`[work(item) for item in items]`, on up to `usable_cores()` threads (in the calling thread
    when that is already one of these threads: the cores are busy)."""
    items = list(items)
    threads = min(usable_cores(), len(items))
    if threads <= 1 or getattr(_worker, "busy", False):
        return [work(item) for item in items]
    with _pool(threads) as pool:
        return list(pool.map(work, items))


@overload
def side_by_side(first: Callable[[], First], second: Callable[[], Second], /) -> tuple[First, Second]: ...


@overload
def side_by_side(
    first: Callable[[], First],
    second: Callable[[], Second],
    third: Callable[[], Third],
    fourth: Callable[[], Fourth],
    /,
) -> tuple[First, Second, Third, Fourth]: ...


@overload
def side_by_side(*calls: Callable[[], Result]) -> tuple[Result, ...]: ...


def side_by_side(*calls: Callable[[], Any]) -> tuple[Any, ...]:
    """`(call() for call in calls)`, each on its own thread (up to `usable_cores()`): for independent work.
    (The overloads give each call's result its own type.)"""
    return tuple(map_in_threads(lambda call: call(), calls))


def in_background(work: Callable[[], Result]) -> Future[Result]:
    """`work()` started on a thread of its own; its result (or error) waits in the Future."""
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="poppy_background")
    try:
        return pool.submit(work)
    finally:
        pool.shutdown(wait=False)  # the thread ends once the work is done


def ordered_in_threads(work: Callable[[Item], Result], items: Iterable[Item], ahead: int) -> Iterator[Result]:
    """`work(item) for item in items`, in order, computed up to `ahead` items ahead on the cores:
    the caller consumes each result while the next ones are made."""
    threads = usable_cores()
    if threads <= 1 or getattr(_worker, "busy", False):
        yield from map(work, items)
        return
    pending: deque[Future[Result]] = deque()
    with _pool(threads) as pool:
        try:
            for item in items:
                pending.append(pool.submit(work, item))
                if len(pending) > ahead:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:  # an error, or the caller stopped: what has not started never will
            for future in pending:
                future.cancel()


_worker = threading.local()


def _pool(threads: int) -> ThreadPoolExecutor:
    def mark_busy() -> None:
        _worker.busy = True

    return ThreadPoolExecutor(max_workers=threads, thread_name_prefix="poppy_numpy", initializer=mark_busy)
