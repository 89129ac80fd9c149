"""A total deadline per HTTP response, which per-read timeouts cannot give.

A server that sends its headers or body one byte a second never lets a read time out:
each byte resets the timeout. So every request runs under a :class:`Watch`: the
connection registers its socket with the watch of the request under way in its thread
(:func:`watch_socket`, before the answer is waited for), and
one :class:`Watchdog` thread shuts the socket down when the watch's time is up. The read
that was blocked then ends with an error, which the fetcher reports as the deadline.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import socket
import threading
import time
from collections.abc import Iterator

__all__ = ["Watch", "Watchdog", "watch_socket"]

#: The watch of the request under way in this thread (requests are synchronous).
_current = threading.local()


class Watch:
    """One request's deadline (on ``time.monotonic``) and the sockets it uses. ``lock``
    guards its state: the watchdog's watches share one (a lock made per request costs
    more than the few moments they hold it)."""

    __slots__ = ("_lock", "_sockets", "done", "ends_at", "expired", "previous")

    def __init__(self, ends_at: float, lock: threading.Lock | None = None) -> None:
        self.ends_at = ends_at
        self.expired = False
        self.done = False
        #: The watch that was current in this thread before this one (see Watchdog.begin).
        self.previous: Watch | None = None
        self._sockets: list[socket.socket] = []
        self._lock = lock or threading.Lock()

    def passed(self) -> bool:
        return self.expired or time.monotonic() >= self.ends_at

    def attach(self, sock: socket.socket | None) -> None:
        """Watch ``sock``; shut it down at once if the time is already up."""
        if sock is None:
            return
        with self._lock:
            late = self.expired
            if not late:
                self._sockets.append(sock)
        if late:
            _shut(sock)

    def expire(self) -> None:
        """The time is up: shut every socket down (a blocked read in the request's thread
        returns at once)."""
        with self._lock:
            if self.done:
                return
            self.expired = True
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            _shut(sock)

    def finish(self) -> None:
        with self._lock:
            self.done = True
            self._sockets = []


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


class Watchdog:
    """One thread that expires the watches whose time is up (started when first needed)."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Watch]] = []
        self._order = itertools.count()
        self._watch_lock = threading.Lock()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False

    def begin(self, seconds: float) -> Watch:
        """A watch of ``seconds``, current in this thread until :meth:`end` (what
        :meth:`watch` does, without a context manager's cost on a request's path)."""
        ends_at = time.monotonic() + seconds
        watch = Watch(ends_at, self._watch_lock)
        cond = self._cond
        cond.acquire()  # the lock's own method: ``with cond`` runs two more in Python
        try:
            # The thread sleeps until the earliest end; it is woken only when this watch
            # ends before that (with one response_deadline for all, almost never: waking
            # it per request would cost more than the request).
            heap = self._heap
            earliest = not heap or ends_at < heap[0][0]
            heapq.heappush(heap, (ends_at, next(self._order), watch))
            if self._thread is None or self._closed:
                self._start()
                cond.notify_all()  # a thread of before the close, if waiting, ends
            elif earliest:
                cond.notify()
        finally:
            cond.release()
        watch.previous = getattr(_current, "watch", None)
        _current.watch = watch
        return watch

    @staticmethod
    def end(watch: Watch) -> None:
        """The request of ``watch`` is over: the watch before it is current again."""
        _current.watch = watch.previous
        watch.previous = None
        watch.finish()

    @contextlib.contextmanager
    def watch(self, seconds: float) -> Iterator[Watch]:
        """A watch of ``seconds``, current in this thread while the block runs."""
        watch = self.begin(seconds)
        try:
            yield watch
        finally:
            self.end(watch)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._heap.clear()
            self._cond.notify()

    def _start(self) -> None:
        """Start the thread (called holding the condition, when none runs or it was
        closed: a thread ends only once closed or replaced, and then forgets itself, so
        there is no need to ask one whether it lives, which costs per request)."""
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="zufiwatch-watchdog",
                                        daemon=True)
        self._thread.start()

    def _run(self) -> None:
        me = threading.current_thread()
        try:
            while True:
                with self._cond:
                    due = self._next_due(me)
                if due is None:
                    return
                due.expire()
        finally:
            with self._cond:
                if self._thread is me:
                    self._thread = None

    def _next_due(self, me: threading.Thread) -> Watch | None:
        """Wait (holding the condition) for the next watch whose time is up; None once
        closed, or once another thread took over from ``me`` (the watchdog was closed,
        then used again). Finished watches are dropped on the way."""
        while not self._closed and self._thread is me:
            if not self._heap:
                self._cond.wait()
                continue
            ends_at, _, watch = self._heap[0]
            wait = ends_at - time.monotonic()
            if watch.done or wait <= 0:
                heapq.heappop(self._heap)
                if not watch.done:
                    return watch
                continue
            self._cond.wait(wait)
        return None


def watch_socket(sock: socket.socket | None) -> None:
    """Register a connection's socket with the watch of the request under way in this
    thread (if any)."""
    watch = getattr(_current, "watch", None)
    if watch is not None:
        watch.attach(sock)
