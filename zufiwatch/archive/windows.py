"""Reading finished crawl files in windows of 1 MiB.

The records a crawl reads back (the full copies its deltas are made against, the payloads
a 304 answers with) lie mostly in order in one earlier file, so one read serves hundreds
of them: no system call per record, which in a crawl with busy threads costs a thread
switch each. Only finished files are read; they are never written again.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from pathlib import Path

__all__ = ["WINDOW", "Windows", "read_range"]

#: How many bytes one read takes from a file.
WINDOW = 1 << 20
#: How many windows are kept (of one file or several).
_KEPT = 4


def read_range(path: Path, at: int, length: int) -> bytes:
    """``length`` bytes of ``path`` from byte ``at`` (fewer at the end of the file)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    try:
        return os.pread(fd, length, at)
    finally:
        os.close(fd)


class Windows:
    """The last windows read of finished files; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._kept: OrderedDict[tuple[str, int], bytes] = OrderedDict()
        self._last: tuple[str, int, bytes] = ("", 0, b"")

    def read(self, path: Path, at: int, length: int) -> bytes:
        """``length`` bytes of ``path`` from byte ``at`` (fewer at the end of the file)."""
        name = str(path)
        last_name, start, data = self._last  # one tuple: read whole by any thread
        if last_name == name and start <= at and at + length <= start + len(data):
            return data[at - start:at - start + length]
        with self._lock:
            for key, data in self._kept.items():
                if key[0] == name and key[1] <= at and at + length <= key[1] + len(data):
                    self._kept.move_to_end(key)
                    self._last = (name, key[1], data)
                    return data[at - key[1]:at - key[1] + length]
        if length > WINDOW:
            return read_range(path, at, length)
        data = read_range(path, at, WINDOW)
        if len(data) >= length:
            with self._lock:
                self._kept[(name, at)] = data
                self._last = (name, at, data)
                while len(self._kept) > _KEPT:
                    self._kept.popitem(last=False)
        return data[:length]
