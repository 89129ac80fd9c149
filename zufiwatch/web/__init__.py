"""``zufiwatch serve``: the web application where the working group reads and acts.

A Flask application over the same history as the crawler, served by waitress behind the
city's reverse proxy (:func:`create_app`). Pages (``pages``) are German by default and
share the readable forms of values with the mails and the static overview; actions
(``actions``: acknowledge, record and withdraw expected changes) need the role
``pruefer`` and land in the evidence chain; sign-in (``auth``) is a local user file with
Argon2 hashes or the user name of the reverse proxy.
"""

from __future__ import annotations

from .app import create_app

__all__ = ["create_app"]
