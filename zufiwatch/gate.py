"""The run gate: decide from what a crawl saw whether anything may be concluded.

``complete``: every listed entry was read and every listing delivered what it promised;
the crawl may conclude additions, modifications and removals. ``partial``: some entries
or a whole kind could not be read; changes of the entries that were read are concluded,
nothing is concluded about the rest, and nothing is concluded removed. ``failed``: the
crawl cannot be trusted at all; it is recorded with its reason and concludes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .model import Outcome
from .sources.base import Listing

__all__ = ["Verdict", "judge"]


@dataclass(frozen=True)
class Verdict:
    outcome: Outcome
    reason: str
    #: Kinds of record whose absence must not be read as a removal.
    incomplete_kinds: frozenset[str] = frozenset()


def judge(*, fatal: str | None, listings: Sequence[Listing], unobserved: Sequence[str],
          incomplete: dict[str, str], observed: int,
          seen_by_kind: Mapping[str, int] | None = None,
          present_by_kind: Mapping[str, int] | None = None,
          max_loss: float = 0.10, unverified: Mapping[str, str] | None = None) -> Verdict:
    """The verdict on one crawl.

    ``unobserved`` are the reasons of unread entries. ``present_by_kind`` is how many
    records of each kind the history holds as present; a kind of which this crawl saw
    (read, or at least listed) more than ``max_loss`` fewer is suspicious and fails the
    crawl, unless the source already said that kind is incomplete. ``unverified`` kinds
    were not meant to be read completely (incremental crawls): they neither make the crawl
    partial nor may their absence be read as removal.
    """
    if fatal:
        return Verdict(Outcome.FAILED, fatal)
    seen_by_kind = seen_by_kind or {}
    skipped = frozenset(unverified or {})
    for kind, present in sorted((present_by_kind or {}).items()):
        seen = seen_by_kind.get(kind, 0)
        if (kind not in incomplete and kind not in skipped and present
                and seen < (1 - max_loss) * present):
            return Verdict(Outcome.FAILED,
                           f"suspicious: {seen} {kind} records seen where the history holds "
                           f"{present} (more than {max_loss:.0%} lost); nothing concluded")
    reasons = []
    kinds = dict(incomplete)
    for listing in listings:
        if listing.received != listing.expected:
            reasons.append(f"{listing.name}: the source announced {listing.expected}, "
                           f"delivered {listing.received}")
            kinds.setdefault(_kind_of(listing.name), "listing incomplete")
    reasons.extend(kinds[k] for k in sorted(kinds) if kinds[k] not in reasons)
    if unobserved:
        sample = "; ".join(unobserved[:3])
        more = f" (+{len(unobserved) - 3} more)" if len(unobserved) > 3 else ""
        reasons.append(f"{len(unobserved)} entries not observed: {sample}{more}")
    if observed == 0 and reasons:
        return Verdict(Outcome.FAILED, "nothing could be read: " + " | ".join(reasons))
    if reasons:
        return Verdict(Outcome.PARTIAL, " | ".join(reasons), frozenset(kinds) | skipped)
    return Verdict(Outcome.COMPLETE, "", skipped)


def _kind_of(listing_name: str) -> str:
    return {"leistungen": "leistung", "onlinedienste": "onlinedienst"}.get(listing_name,
                                                                           listing_name)
