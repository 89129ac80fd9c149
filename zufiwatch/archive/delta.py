"""Byte deltas: a payload as copies from an earlier payload (its base) and new bytes.

Pure functions. :func:`diff` finds what two payloads share; :func:`patch` rebuilds the new
payload from the base and the delta. Payloads that differ in a few volatile values (a
``lastUpdate``, a ``timestamp``) make deltas of a few dozen bytes. Whoever stores a delta
checks that :func:`patch` gives the payload back byte for byte (by its SHA-256): a delta is
never trusted unverified.

The encoding is a sequence of operations, each a varint ``tag`` = ``length << 1 | kind``:

- kind 0, *copy*: followed by a zigzag varint, the copy's start in the base relative to
  the end of the previous copy; ``length`` bytes of the base;
- kind 1, *add*: followed by ``length`` new bytes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from difflib import SequenceMatcher

__all__ = ["DeltaError", "diff", "patch"]

#: Differing runs closer than this are merged into one (an add of a few equal bytes is
#: smaller than a copy between them).
_MERGE_GAP = 8
#: Same-length payloads are compared byte by byte; more differing runs than this (or than
#: one per :data:`_BYTES_PER_RUN` bytes, when that is more), or runs that cover more than
#: :data:`_MAX_COVERED` of the bytes, and they are compared line by line or token by token
#: instead (a shifted part differs almost everywhere).
_MAX_RUNS = 64
_BYTES_PER_RUN = 16
_MAX_COVERED = 0.25
#: Token sequences longer than this are not compared (the matcher's cost would grow).
_MAX_TOKENS = 20_000
#: Token sequences longer than this are compared with their most frequent tokens left out.
_MAX_EXACT_TOKENS = 2_000
#: Payloads with this many lines are compared line by line first.
_MIN_LINES = 20
#: Where JSON, HTML and text split into tokens (after these bytes).
_TOKEN_END = re.compile(rb"(?<=[,;|\t\n>}\]])")
#: Same-length payloads are read byte by byte (XORed) in windows of this many bytes from
#: each difference; the next difference after a window is found by comparing stretches.
_LEAF = 128
#: Where the differences begin and end is found within this many bytes.
_CLOSE = 256
#: Bytes between the first and the last difference up to this many are read at once (and
#: the windows of a walk grow up to this many).
_SPAN = 4096
#: Stretches up to this many bytes are compared as copies (cheaper than a memoryview).
_COPIED = 512
_GAP = b"\0" * (_MERGE_GAP + 1)

#: One operation: (start in the base, length) for a copy; the bytes for an add.
Op = tuple[int, int] | bytes


class DeltaError(ValueError):
    """A delta that does not fit its base (damaged, or applied to another base)."""


def diff(base: bytes, new: bytes) -> bytes:
    """The delta that turns ``base`` into ``new``."""
    if len(base) == len(new) and base:
        runs = _differing_runs(base, new)
        if runs is not None:
            return _encode_runs(runs, new)
    return _encode(_ops(base, new))


def patch(base: bytes, delta: bytes) -> bytes:
    """``base`` with ``delta`` applied; :class:`DeltaError` when they do not fit."""
    parts: list[bytes] = []
    pos = end = 0
    size, limit = len(delta), len(base)
    while pos < size:
        tag = delta[pos]
        pos += 1
        if tag & 0x80:
            if pos < size and not delta[pos] & 0x80:  # two bytes: the usual long tag
                tag = tag & 0x7F | delta[pos] << 7
                pos += 1
            else:
                tag, pos = _varint(delta, pos - 1)
        length = tag >> 1
        if tag & 1:
            if pos + length > size:
                raise DeltaError("an add runs past the end of the delta")
            parts.append(delta[pos:pos + length])
            pos += length
            continue
        if pos < size and not delta[pos] & 0x80:
            shift = delta[pos]
            pos += 1
        else:
            shift, pos = _varint(delta, pos)
        start = end + ((shift >> 1) ^ -(shift & 1))
        end = start + length
        if start < 0 or end > limit:
            raise DeltaError(f"a copy of bytes {start}..{end} outside a base of {limit}")
        parts.append(base[start:end])
    return b"".join(parts)


def _ops(base: bytes, new: bytes) -> Iterator[Op]:
    prefix = _common_prefix(base, new)
    suffix = _common_suffix(base, new, min(len(base), len(new)) - prefix)
    if prefix:
        yield (0, prefix)
    old_mid = base[prefix:len(base) - suffix]
    new_mid = new[prefix:len(new) - suffix]
    if new_mid:
        yield from _middle(old_mid, new_mid, prefix)
    if suffix:
        yield (len(base) - suffix, suffix)


def _around(runs: list[list[int]], size: int, new: bytes, offset: int) -> Iterator[Op]:
    """The ops of a same-length payload: copies around its differing runs."""
    done = 0
    for start, end in runs:
        if start > done:
            yield (offset + done, start - done)
        yield new[start:end]
        done = end
    if done < size:
        yield (offset + done, size - done)


def _middle(old: bytes, new: bytes, offset: int) -> Iterator[Op]:
    if not old:
        yield new
        return
    if len(old) == len(new):
        runs = _differing_runs(old, new)
        if runs is not None:
            yield from _around(runs, len(new), new, offset)
            return
    if old.count(b"\n") >= _MIN_LINES and new.count(b"\n") >= _MIN_LINES:
        yield from _by_lines(old, new, offset)
        return
    yield from _by_tokens(old, new, offset)


def _by_lines(old: bytes, new: bytes, offset: int) -> Iterator[Op]:
    """Line by line (a CSV, a page); lines replaced one for one are compared within."""
    old_lines, new_lines = old.splitlines(keepends=True), new.splitlines(keepends=True)
    old_at, new_at = _starts(old_lines), _starts(new_lines)
    matcher = SequenceMatcher(None, old_lines, new_lines, autojunk=True)
    for tag, a1, a2, b1, b2 in matcher.get_opcodes():
        if tag == "equal":
            yield (offset + old_at[a1], old_at[a2] - old_at[a1])
        elif tag == "replace" and a2 - a1 == b2 - b1:
            for a, b in zip(range(a1, a2), range(b1, b2), strict=True):
                yield from _ops_within(old_lines[a], new_lines[b], offset + old_at[a])
        elif b2 > b1:
            yield new[new_at[b1]:new_at[b2]]


def _ops_within(old: bytes, new: bytes, offset: int) -> Iterator[Op]:
    """The ops of one small piece against another (a line against the line it replaced)."""
    for op in _ops(old, new):
        yield op if isinstance(op, bytes) else (offset + op[0], op[1])


def _differing_runs(old: bytes, new: bytes) -> list[list[int]] | None:
    """Where two byte strings of one length differ, as [start, end] runs; ``None`` when
    there are too many runs to be worth it, or they cover too much.

    Where the differences begin and end is found by halving (stretches compared in C, a
    memcmp each), and the bytes between are read byte by byte (their XOR, in C) when
    they are few; else window by window, each next difference found by comparing ever
    longer stretches. The cost follows the runs, not the length."""
    size = len(old)
    if old == new:
        return []
    view = memoryview(new)
    low = _first_difference(old, new, view, 0, size, _CLOSE)
    high = _last_difference(old, new, view, low, size, _CLOSE)
    most = max(_MAX_RUNS, size // _BYTES_PER_RUN)
    runs: list[list[int]] = []
    if high - low <= _SPAN:
        if not _add_runs(old[low:high], new[low:high], low, runs, most):
            return None
    elif not _walk(old, new, view, low, high, runs, most):
        return None
    if sum(end - start for start, end in runs) > _MAX_COVERED * size:
        return None
    return runs


def _walk(old: bytes, new: bytes, view: memoryview, at: int, end: int,
          runs: list[list[int]], most: int) -> bool:
    """Add the runs in ``at``..``end`` (a difference in its first :data:`_CLOSE` bytes)
    window by window; windows grow while the differences are dense."""
    most_covered = _MAX_COVERED * len(old)
    counted = covered = 0  # the runs before runs[counted] cover ``covered`` bytes
    width = _CLOSE
    while True:
        high = min(at + width, end)
        if not _add_runs(old[at:high], new[at:high], at, runs, most):
            return False
        for start, stop in runs[counted:-1]:  # the last run may still grow
            covered += stop - start
        counted = len(runs) - 1
        if covered + runs[-1][1] - runs[-1][0] > most_covered:
            return False
        if high == end or _equal(old, new, view, high, end):
            return True
        at = _next_difference(old, new, view, high, end)
        width = min(width * 2, _SPAN) if at - high < width else _LEAF


def _next_difference(old: bytes, new: bytes, view: memoryview, at: int, end: int) -> int:
    """A start, at or after ``at``, of :data:`_LEAF` bytes with the next difference (there
    is one before ``end``) in them: stretches ever longer from ``at``, then halved."""
    step = _LEAF // 2
    while at + step < end and _equal(old, new, view, at, at + step):
        at += step
        step *= 2
    return _first_difference(old, new, view, at, min(at + step, end), _LEAF // 2)


def _equal(old: bytes, new: bytes, view: memoryview, low: int, high: int) -> bool:
    """Whether ``old`` and ``new`` agree in ``low``..``high`` (one memcmp: short stretches
    as copies, longer ones through ``view`` without copying)."""
    if high - low <= _COPIED:
        return old[low:high] == new[low:high]
    return old.startswith(view[low:high], low)


def _first_difference(old: bytes, new: bytes, view: memoryview, low: int, high: int,
                      close: int) -> int:
    """A start, in ``low``..``high`` (with a difference in it), of ``close`` bytes with
    the first difference in them."""
    while high - low > close:  # a difference in low..high, none before low
        middle = (low + high) // 2
        if _equal(old, new, view, low, middle):
            low = middle
        else:
            high = middle
    return low


def _last_difference(old: bytes, new: bytes, view: memoryview, low: int, high: int,
                     close: int) -> int:
    """An end, in ``low``..``high`` (with a difference in it), of ``close`` bytes with
    the last difference in them."""
    while high - low > close:  # a difference in low..high, none after high
        middle = (low + high + 1) // 2
        if _equal(old, new, view, middle, high):
            high = middle
        else:
            low = middle
    return high


def _add_runs(old: bytes, new: bytes, offset: int, runs: list[list[int]], most: int) -> bool:
    """Add the differing runs of two pieces of one length to ``runs``, merged with the
    last when closer than :data:`_MERGE_GAP`; ``False`` when there would be more than
    ``most``. The runs are found on the XOR of the pieces (in C), the zero bytes being
    where they agree: its first and last differing bytes by its lowest and highest bits
    (little-endian: byte i is bits 8i..8i+7), the gaps between by ``find``."""
    xor = int.from_bytes(old, "little") ^ int.from_bytes(new, "little")
    if not xor:
        return True
    data = xor.to_bytes(len(old), "little")
    start = ((xor & -xor).bit_length() - 1) >> 3
    end = (xor.bit_length() + 7) >> 3
    while True:
        gap = data.find(_GAP, start, end)
        stop = end if gap < 0 else gap
        if runs and offset + start - runs[-1][1] <= _MERGE_GAP:
            runs[-1][1] = offset + stop
        elif len(runs) == most:
            return False
        else:
            runs.append([offset + start, offset + stop])
        if gap < 0:
            return True
        start = end - len(data[gap:end].lstrip(b"\0"))


def _by_tokens(old: bytes, new: bytes, offset: int) -> Iterator[Op]:
    old_tokens, new_tokens = _TOKEN_END.split(old), _TOKEN_END.split(new)
    if len(old_tokens) > _MAX_TOKENS or len(new_tokens) > _MAX_TOKENS:
        yield new
        return
    old_at, new_at = _starts(old_tokens), _starts(new_tokens)
    # Without junk, tokens repeated many times would make the matcher slow on long input.
    autojunk = len(new_tokens) > _MAX_EXACT_TOKENS
    matcher = SequenceMatcher(None, old_tokens, new_tokens, autojunk=autojunk)
    done = 0  # bytes of ``new`` written
    for a, b, size in matcher.get_matching_blocks():
        start = new_at[b]
        if start > done:
            yield new[done:start]
            done = start
        if size:
            length = new_at[b + size] - start
            yield (offset + old_at[a], length)
            done = start + length
    if done < len(new):
        yield new[done:]


def _starts(tokens: list[bytes]) -> list[int]:
    at = [0]
    for token in tokens:
        at.append(at[-1] + len(token))
    return at


def _common_prefix(a: bytes, b: bytes) -> int:
    """The length of the common prefix, by halving slices (compared in C)."""
    low, high = 0, min(len(a), len(b))
    if a[:high] == b[:high]:
        return high
    while low < high:  # a[:low] == b[:low] and a[:high] != b[:high]
        middle = (low + high + 1) // 2
        if a[low:middle] == b[low:middle]:
            low = middle
        else:
            high = middle - 1
    return low


def _common_suffix(a: bytes, b: bytes, limit: int) -> int:
    """The length of the common suffix, at most ``limit``, by halving slices."""
    low, high = 0, limit
    if a[len(a) - high:] == b[len(b) - high:]:
        return high
    while low < high:  # the last low bytes are equal, the last high are not
        middle = (low + high + 1) // 2
        if a[len(a) - middle:len(a) - low] == b[len(b) - middle:len(b) - low]:
            low = middle
        else:
            high = middle - 1
    return low


def _encode(ops: Iterator[Op]) -> bytes:
    out = bytearray()
    end = 0
    for op in ops:
        if isinstance(op, bytes):
            out += _to_varint(len(op) << 1 | 1)
            out += op
            continue
        start, length = op
        if not length:
            continue
        shift = start - end
        out += _to_varint(length << 1)
        out += _to_varint((shift << 1) ^ (shift >> 63))
        end = start + length
    return bytes(out)


def _encode_runs(runs: list[list[int]], new: bytes) -> bytes:
    """The delta of a same-length payload that differs from its base in ``runs``: a copy
    of what lies between them, an add of each run (what :func:`_encode` makes of the ops
    of :func:`_around`, without building them)."""
    out: list[bytes] = []
    done = end = 0  # bytes of ``new`` made; the end of the last copy in the base
    for start, stop in runs:
        if start > done:
            out.append(_to_varint((start - done) << 1))
            out.append(_to_varint((done - end) << 1))
            end = start
        out.append(_to_varint((stop - start) << 1 | 1))
        out.append(new[start:stop])
        done = stop
    if done < len(new):
        out.append(_to_varint((len(new) - done) << 1))
        out.append(_to_varint((done - end) << 1))
    return b"".join(out)


#: The one-byte varints.
_SMALL = [bytes([value]) for value in range(0x80)]


def _to_varint(value: int) -> bytes:
    if value < 0x80:
        return _SMALL[value]
    if value < 0x4000:
        return bytes((value & 0x7F | 0x80, value >> 7))
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(data):
            raise DeltaError("the delta ends inside a number")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
