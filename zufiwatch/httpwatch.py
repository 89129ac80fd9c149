"""A total deadline per HTTP response, which per-read timeouts cannot give.

A server that sends its headers or body one byte a second never lets a read time out:
each byte resets the timeout. So every request runs under a :class:`Watch`: the
connection registers its socket with the watch of its request before the answer is waited
for (the fetcher hands :meth:`Watch.attach` to its direct transport; a proxied connection
finds the watch under way in its thread, :func:`watch_socket`), and
one :class:`Watchdog` thread shuts the socket down when the watch's time is up. The read
that was blocked then ends with an error, which the fetcher reports as the deadline.
"""

from __future__ import annotations

import collections
import contextlib
import heapq
import itertools
import math
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
    """One thread that expires the watches whose time is up (started when first needed).

    A request's watch is handed over without a lock: :meth:`begin` appends it to
    ``_incoming`` (a deque: appending is atomic) and wakes the thread only when the watch
    ends before the thread means to wake up (``_wake_at``; with one response_deadline
    for all, almost never: waking it, or even taking its lock, per request would cost
    more than the request). The thread takes what came in each time it wakes. It sets
    ``_wake_at`` before it looks at ``_incoming`` a last time before it sleeps, and
    :meth:`begin` appends before it reads ``_wake_at`` (again): so either the thread sees
    the new watch, or :meth:`begin` sees when the thread will wake (statements run one at
    a time under the GIL).
    """

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Watch]] = []
        self._order = itertools.count()
        self._incoming: collections.deque[Watch] = collections.deque()
        self._wake_at = math.inf
        self._watch_lock = threading.Lock()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False

    def begin(self, seconds: float) -> Watch:
        """A watch of ``seconds``, current in this thread until :meth:`end` (what
        :meth:`watch` does, without a context manager's cost on a request's path)."""
        ends_at = time.monotonic() + seconds
        watch = Watch(ends_at, self._watch_lock)
        wake_at = self._wake_at
        self._incoming.append(watch)
        # Woken if the thread may sleep past this end: it meant to as the watch came in,
        # or means to now (it may have looked at _incoming just before).
        if ends_at < max(wake_at, self._wake_at) or self._thread is None or self._closed:
            self._wake(ends_at)
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
            self._incoming.clear()
            self._wake_at = math.inf
            self._cond.notify()

    def _wake(self, ends_at: float) -> None:
        """Make sure the thread looks at the watches that came in by ``ends_at``: start
        it if none runs (or it was closed), else wake it."""
        with self._cond:
            if self._thread is None or self._closed:
                self._start()
            self._wake_at = min(self._wake_at, ends_at)
            self._cond.notify_all()  # a thread of before a close, if waiting, ends

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
        heap = self._heap
        while not self._closed and self._thread is me:
            self._take_incoming()
            ends_at, wait = math.inf, None
            if heap:
                ends_at, _, watch = heap[0]
                wait = ends_at - time.monotonic()
                if watch.done or wait <= 0:
                    heapq.heappop(heap)
                    if not watch.done:
                        return watch
                    continue
            self._wake_at = ends_at
            if not self._incoming:  # else one came in that begin may not wake us for
                self._cond.wait(wait)
        return None

    def _take_incoming(self) -> None:
        """Move the watches handed over into the heap (those finished already aside)."""
        incoming, heap = self._incoming, self._heap
        while incoming:
            watch = incoming.popleft()
            if not watch.done:
                heapq.heappush(heap, (watch.ends_at, next(self._order), watch))


def watch_socket(sock: socket.socket | None) -> None:
    """Register a connection's socket with the watch of the request under way in this
    thread (if any)."""
    watch = getattr(_current, "watch", None)
    if watch is not None:
        watch.attach(sock)
