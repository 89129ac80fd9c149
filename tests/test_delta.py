"""Byte deltas (zufiwatch.archive.delta): the fast path for payloads of one length finds the
same runs as the general scan it replaced (tests/legacy/delta_1.py), so its deltas are no
larger; every delta patches back to its payload byte for byte; and the cost of finding the
runs follows the runs, not the length."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import pytest

from tests.legacy import delta_1
from zufiwatch.archive import delta
from zufiwatch.archive.delta import DeltaError, diff, patch


def document(rng: random.Random, size: int) -> bytes:
    """JSON-like text of about ``size`` bytes, with ISO timestamps in it."""
    parts = []
    while sum(map(len, parts)) < size:
        parts.append(f'{{"id":"{rng.randrange(10**9)}","lastUpdate":"2026-09-2{rng.randrange(10)}'
                     f'T1{rng.randrange(10)}:40:00.000","name":"{"x" * rng.randrange(60)}"}},'
                     .encode())
    return b"[" + b"".join(parts)[:size] + b"]"


def scattered(rng: random.Random, body: bytes, runs: int, longest: int = 24) -> bytes:
    """``body`` of the same length with ``runs`` runs of changed bytes at random places."""
    out = bytearray(body)
    for _ in range(runs):
        length = rng.randrange(1, longest + 1)
        at = rng.randrange(max(len(body) - length, 1))
        for i in range(at, min(at + length, len(out))):
            out[i] = (out[i] + rng.randrange(1, 256)) % 256
    return bytes(out)


def placed(body: bytes, positions: list[int]) -> bytes:
    """``body`` with one byte changed at each of ``positions``."""
    out = bytearray(body)
    for at in positions:
        out[at] ^= 0x55
    return bytes(out)


def pairs() -> Iterator[tuple[str, bytes, bytes]]:
    rng = random.Random(19)
    for size in (1, 7, 64, 127, 128, 129, 255, 256, 257, 1000, 4095, 4096, 4097, 5000,
                 20_000, 100_000):
        body = document(rng, size)
        n = len(body)
        yield f"identical-{n}", body, body
        for runs in (1, 2, 3, 10, 60, 200):
            yield f"scattered-{n}-{runs}", body, scattered(rng, body, runs)
        yield f"first-and-last-{n}", body, placed(body, sorted({0, n - 1}))
        yield f"long-run-{n}", body, scattered(rng, body, 1, longest=max(n // 3, 1))
        yield f"random-{n}", body, rng.randbytes(n)
        yield f"insertion-{n}", body, body[:n // 2] + b"inserted" + body[n // 2:]
        yield f"deletion-{n}", body, body[:n // 3] + body[n // 3 + min(5, n):]
        yield f"moved-and-longer-{n}", body, scattered(rng, body, 3) + b"tail"
        yield f"empty-new-{n}", body, b""
        yield f"empty-base-{n}", b"", body
    base = document(rng, 9000)
    for gap in (7, 8, 9, 10):  # runs merged up to _MERGE_GAP equal bytes apart
        yield f"gap-{gap}", base, placed(base, [3000, 3001 + gap])
    for at in (63, 64, 127, 128, 255, 256, 257, 511, 512, 4095, 4096, 4097):  # windows
        yield f"edges-{at}", base, placed(base, [at, 6000 - at, 8999 - at])
    dense = document(rng, 400_000)
    yield "dense-listing", dense, placed(dense, list(range(150, len(dense) - 10, 190)))
    yield "dense-pairs", dense, placed(dense, [a + d for a in range(200, len(dense) - 20, 180)
                                               for d in (0, 10)])
    yield "sparse-far", dense, placed(dense, [17, 250_000, len(dense) - 3])
    yield "empty", b"", b""


PAIRS = list(pairs())


@pytest.mark.parametrize(("name", "base", "new"), PAIRS, ids=[p[0] for p in PAIRS])
def test_every_delta_patches_back_and_is_no_larger_than_before(name: str, base: bytes,
                                                               new: bytes) -> None:
    made = diff(base, new)
    assert patch(base, made) == new
    before = delta_1.diff(base, new)
    assert delta_1.patch(base, made) == new  # the format is unchanged: the old reader reads it
    assert patch(base, before) == new  # and the new reader reads the old deltas
    assert len(made) <= len(before)
    if len(base) == len(new):
        assert made == before  # the same runs, found faster


def test_the_runs_are_those_of_the_general_scan_on_many_random_pairs() -> None:
    rng = random.Random(2026)
    for _ in range(400):
        body = document(rng, rng.randrange(1, 12_000))
        new = scattered(rng, body, rng.randrange(0, 40), longest=rng.choice((3, 12, 40)))
        assert delta._differing_runs(body, new) == _legacy_runs(body, new)
        assert patch(body, diff(body, new)) == new


def _legacy_runs(old: bytes, new: bytes) -> list[list[int]] | None:
    runs = delta_1._differing_runs(old, new)
    return None if runs is None else [list(run) for run in runs]


class Counting(bytes):
    """Bytes that count how often they are sliced or compared from Python."""

    calls = 0

    def __getitem__(self, key: Any) -> Any:
        Counting.calls += 1
        return super().__getitem__(key)

    def startswith(self, *args: Any) -> bool:
        Counting.calls += 1
        return super().startswith(*args)


def test_finding_a_few_runs_costs_by_the_runs_not_by_the_length() -> None:
    """A megabyte with two moved values is compared in a few dozen steps (the general
    scan compared each of its 2 KiB blocks: over a thousand slices)."""
    body = document(random.Random(1), 1 << 20)
    new = placed(body, [300_000, 300_030, 700_000])
    Counting.calls = 0
    runs = delta._differing_runs(Counting(body), Counting(new))
    assert runs == [[300_000, 300_001], [300_030, 300_031], [700_000, 700_001]]
    assert Counting.calls < 150


def test_a_dense_payload_is_read_in_growing_windows() -> None:
    """4,000 runs in 400 KB (a listing whose every date moved): far fewer steps than
    runs, windows growing while the differences are dense."""
    body = document(random.Random(2), 400_000)
    new = placed(body, [a + d for a in range(200, len(body) - 20, 200) for d in (0, 10)])
    Counting.calls = 0
    runs = delta._differing_runs(Counting(body), Counting(new))
    assert runs is not None and len(runs) == 3998
    assert Counting.calls < 1200


def test_a_damaged_delta_is_refused() -> None:
    base = document(random.Random(3), 3000)
    made = diff(base, scattered(random.Random(4), base, 3))
    with pytest.raises(DeltaError):
        patch(base, made[:-1] + bytes([made[-1] | 0x80]))  # ends inside a number
    with pytest.raises(DeltaError):
        patch(base[:100], made)  # a copy outside its base
    with pytest.raises(DeltaError):
        patch(base, bytes([0x7F]) + b"short")  # an add past the end
