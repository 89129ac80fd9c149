"""A static overview of the history: one HTML index, one page per record, an Atom feed.

The site loads nothing (no JavaScript, no remote resources, inline CSS only) and is
readable offline from ``file://``. Crawled content is untrusted: the HTML templates are
autoescaped and never mark crawled data safe, and only http/https links become ``<a href>``
(with ``rel="noopener noreferrer"``). See :func:`build_overview`.
"""

from __future__ import annotations

from .site import atom_feed, build_overview, host_class, record_file_name, safe_href

__all__ = ["atom_feed", "build_overview", "host_class", "record_file_name", "safe_href"]
