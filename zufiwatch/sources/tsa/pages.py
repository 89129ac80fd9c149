"""Paging through the ZuFi's search answers, and running requests in parallel in order.

The first page is asked for without ``offset`` (the documentation says it "must be > 0"),
the next ones with ``offset`` = the results read so far, until ``totalCount`` results are
read. A server may deliver fewer results than asked for (a page cap): pages are counted by
what arrives, not by the limit asked for.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ...errors import ZufiwatchError
from ...limits import LimitReached, WalkBudget
from .._concurrency import ordered_map
from .parse import Page, item_identity
from .payloads import RejectedKey

__all__ = ["MAX_PAGES", "PAGE_MARGIN", "Listed", "ordered_map", "read_pages"]


#: Pages beyond what ``totalCount`` and the first page's length call for (a server may
#: shorten later pages to half the first one's length; beyond that the listing does not
#: end and is called incomplete).
PAGE_MARGIN = 2
#: Pages read of any one listing before it is called endless, whatever its
#: ``totalCount`` says (25,000 results at 25 a page: more than any office holds).
MAX_PAGES = 1000


@dataclass
class Listed:
    """Every result a paged listing delivered, and why it may be incomplete."""

    #: The objects, in the order served, each once.
    items: list[Any] = field(default_factory=list)
    #: The raw pages (what the results were read from), where asked for.
    bodies: list[bytes] = field(default_factory=list)
    #: Why the listing may be incomplete; "" when it delivered what it announced.
    problem: str = ""


def read_pages(fetch: Callable[[int | None], tuple[Page, bytes]], endpoint: str, *,
               budget: WalkBudget | None = None, keep_bodies: bool = True) -> Listed:
    """Every result of a paged search: ``fetch(offset)`` returns one page and its body
    (``offset`` None: the first page, asked for without an offset).

    Reads on while the results read are fewer than ``totalCount`` and the last page
    brought some. Stops with a problem at the first overlap (a result seen again), at a
    ``totalCount`` that changes, at a failed page after the first, and after
    ``2 * ceil(totalCount / first page's length) + PAGE_MARGIN`` pages (at most
    :data:`MAX_PAGES`). Each page either stops the loop or brings a new result, and the
    pages are bounded, so a server sending full pages for ever cannot keep it going.
    An error on the first page is raised: nothing was read.

    Every page and its results count against ``budget`` (the walk's max_pages and
    max_items): beyond either, :class:`LimitReached` is raised. The raw pages are kept in
    ``bodies`` only with ``keep_bodies``."""
    if budget is not None:
        budget.take_page()
    page, body = fetch(None)
    if budget is not None:
        budget.take_items(len(page.items))
    listed = Listed(bodies=[body] if keep_bodies else [])
    seen: set[str] = set()
    problem = _take(listed, seen, page.items, endpoint, 0)
    total = page.total
    bound = MAX_PAGES if total is None else \
        min(MAX_PAGES, 2 * math.ceil(total / max(1, len(page.items))) + PAGE_MARGIN)
    pages = 1
    while not problem and page.items and (total is None or len(listed.items) < total):
        if pages >= bound:
            problem = f"{endpoint}: the listing did not end after {pages} pages"
            break
        offset = len(listed.items)
        if budget is not None:
            budget.take_page()
        try:
            page, body = fetch(offset)
        except (RejectedKey, LimitReached):
            raise
        except ZufiwatchError as exc:
            problem = f"{endpoint}: the page at offset {offset} failed: {exc}"
            break
        pages += 1
        if budget is not None:
            budget.take_items(len(page.items))
        if keep_bodies:
            listed.bodies.append(body)
        if page.total != total:
            problem = (f"{endpoint}: totalCount changed from {total} to {page.total} while "
                       "paging")
            break
        problem = _take(listed, seen, page.items, endpoint, offset)
    if not problem and total is not None and len(listed.items) != total:
        if len(listed.items) < total:
            problem = (f"{endpoint}: {len(listed.items)} of {total} results delivered (the "
                       "pages leave a gap or end early)")
        else:
            problem = (f"{endpoint}: {len(listed.items)} results delivered where "
                       f"totalCount says {total}")
    listed.problem = problem
    return listed


def _take(listed: Listed, seen: set[str], items: list[Any], endpoint: str,
          offset: int) -> str:
    """Add the new results of a page; a problem naming the first one seen before."""
    again = ""
    for index, item in enumerate(items):
        identity = item_identity(item)
        if identity in seen:
            if not again:
                what = f"result {item['id']}" if identity.startswith("id:") else "a result"
                again = (f"{endpoint}: the pages overlap: {what} came again at offset "
                         f"{offset + index}")
            continue
        seen.add(identity)
        listed.items.append(item)
    return again


