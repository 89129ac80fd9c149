"""The history schema, as ``sqlite_utils.Migrations``: applied in order on every open.

Tables::

    crawls        one row per crawl of a source: when, outcome, reason, counts
    records       one row per entry ever seen: source, key, kind, title, status,
                  when it was first and last observed, its current version, and the
                  fingerprint of the payloads (and parser) that produced that version
    versions      one row per distinct content of a record: content hash, canonical
                  JSON, volatile fields, valid_from / valid_to, parser version
    observed_volatile  a version's volatile fields as its latest observation saw them,
                  where they moved since the version was stored (read them through
                  ``VOLATILE``)
    changes       field-level differences: record, crawl, added/modified/removed,
                  path, German label, old and new value (JSON), the event they belong to
    events        one edit of one thing the city keeps, as the working group hears of it:
                  subject, title, office, severity, status, what was sent about it
    witnesses     the crawls (ZuFi, PVOG, link check) that saw an event, and when
    withdrawals   expectations withdrawn by the working group: who, when, why
    observation_gaps  records a crawl should have seen but did not read (not observed)
    disagreements where ZuFi (TSA) and PVOG differ about a Leistung, since when, reported
    strikes       consecutive failed checks of an entry (link checker), until it is observed
    ledger        the evidence chain over what a reader sees (``store/ledger.py``)
    http_cache    the validators (ETag, Last-Modified) of the last answer to each request
                  and the archived body they stand for

Times are ISO 8601 in UTC with microseconds, so that text order is time order, and every
stored time has the same length: updating ``records.last_seen_at`` after an unchanged crawl
rewrites it in place and the database does not grow.
"""

from __future__ import annotations

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

__all__ = ["MIGRATIONS", "VOLATILE"]

#: The volatile fields of the version ``v`` as its latest observation saw them. A versions
#: row holds the content (kilobytes, over several pages); rewriting it for a moved
#: ``lastUpdate`` rewrote every page of it, for every record, every day. So the moved values
#: go to the narrow ``observed_volatile``, and the row keeps those it was stored with.
VOLATILE = ("coalesce((SELECT o.volatile FROM observed_volatile o WHERE o.version_id = v.id), "
            "v.volatile)")

MIGRATIONS = Migrations("zufiwatch")


def _run(db: Database, script: str) -> None:
    # Not executescript(): that commits first and would escape the migration's transaction.
    for statement in script.split(";"):
        if statement.strip():
            db.execute(statement)


@MIGRATIONS()
def m001_initial(db: Database) -> None:
    _run(
        db,
        """
        CREATE TABLE crawls (
            id INTEGER PRIMARY KEY,
            source TEXT NOT NULL,
            started_at TEXT NOT NULL,
            finished_at TEXT,
            outcome TEXT NOT NULL,
            reason TEXT NOT NULL DEFAULT '',
            parser_version TEXT NOT NULL,
            listed INTEGER NOT NULL DEFAULT 0,
            expected INTEGER NOT NULL DEFAULT 0,
            observed INTEGER NOT NULL DEFAULT 0,
            not_observed INTEGER NOT NULL DEFAULT 0,
            versions_added INTEGER NOT NULL DEFAULT 0,
            changes INTEGER NOT NULL DEFAULT 0,
            requests INTEGER NOT NULL DEFAULT 0,
            bytes_received INTEGER NOT NULL DEFAULT 0,
            manifest TEXT NOT NULL DEFAULT ''
        );
        CREATE INDEX crawls_source_started ON crawls (source, started_at);

        CREATE TABLE records (
            id INTEGER PRIMARY KEY,
            source TEXT NOT NULL,
            key TEXT NOT NULL,
            kind TEXT NOT NULL,
            title TEXT NOT NULL DEFAULT '',
            status TEXT NOT NULL,
            first_seen_at TEXT NOT NULL,
            last_seen_at TEXT NOT NULL,
            current_version INTEGER,
            fingerprint TEXT NOT NULL DEFAULT ''
        );
        CREATE UNIQUE INDEX records_source_key ON records (source, key);
        CREATE INDEX records_key ON records (key);

        CREATE TABLE versions (
            id INTEGER PRIMARY KEY,
            record_id INTEGER NOT NULL REFERENCES records(id),
            crawl_id INTEGER NOT NULL REFERENCES crawls(id),
            content_hash TEXT NOT NULL,
            content TEXT NOT NULL,
            volatile TEXT NOT NULL DEFAULT '{}',
            parser_version TEXT NOT NULL,
            valid_from TEXT NOT NULL,
            valid_to TEXT
        );
        CREATE INDEX versions_record_valid ON versions (record_id, valid_from);

        CREATE TABLE changes (
            id INTEGER PRIMARY KEY,
            crawl_id INTEGER NOT NULL REFERENCES crawls(id),
            record_id INTEGER NOT NULL REFERENCES records(id),
            version_id INTEGER REFERENCES versions(id),
            detected_at TEXT NOT NULL,
            change_type TEXT NOT NULL,
            path TEXT NOT NULL,
            label TEXT NOT NULL,
            old_value TEXT,
            new_value TEXT
        );
        CREATE INDEX changes_detected ON changes (detected_at);
        CREATE INDEX changes_record ON changes (record_id, detected_at);

        CREATE TABLE observation_gaps (
            crawl_id INTEGER NOT NULL REFERENCES crawls(id),
            record_id INTEGER NOT NULL REFERENCES records(id),
            reason TEXT NOT NULL DEFAULT '',
            PRIMARY KEY (crawl_id, record_id)
        );
        CREATE INDEX observation_gaps_record ON observation_gaps (record_id);
        """
    )


@MIGRATIONS()
def m002_http_cache(db: Database) -> None:
    """Validators of the last answer to each request, for conditional requests."""
    _run(
        db,
        """
        CREATE TABLE http_cache (
            source TEXT NOT NULL,
            url TEXT NOT NULL,
            etag TEXT NOT NULL DEFAULT '',
            last_modified TEXT NOT NULL DEFAULT '',
            sha256 TEXT NOT NULL,
            content_type TEXT NOT NULL DEFAULT '',
            PRIMARY KEY (source, url)
        )
        """,
    )


@MIGRATIONS()
def m003_missing(db: Database) -> None:
    """Records not seen by a complete crawl are ``missing`` before they are ``removed``."""
    _run(
        db,
        """
        ALTER TABLE records ADD COLUMN missing_since TEXT;
        ALTER TABLE records ADD COLUMN missing_count INTEGER NOT NULL DEFAULT 0
        """,
    )


@MIGRATIONS()
def m004_crawl_mode(db: Database) -> None:
    """Crawls are ``full`` (every entry read) or ``incremental`` (only what the listing says
    changed)."""
    _run(db, "ALTER TABLE crawls ADD COLUMN mode TEXT NOT NULL DEFAULT 'full'")


@MIGRATIONS()
def m005_parser_versions(db: Database) -> None:
    """Why a change was recorded (``source``: the directory changed; ``parser``: a new
    parser reads the same payloads differently), and which parser versions each source's
    history has been baselined with."""
    _run(
        db,
        """
        ALTER TABLE changes ADD COLUMN cause TEXT NOT NULL DEFAULT 'source';
        CREATE TABLE source_parsers (
            source TEXT NOT NULL,
            parser_version TEXT NOT NULL,
            since TEXT NOT NULL,
            PRIMARY KEY (source, parser_version)
        )
        """,
    )


@MIGRATIONS()
def m006_flapping(db: Database) -> None:
    """A change that returns a field to a value it had within the flap window points to
    the first change of that back-and-forth (``flap_of``)."""
    _run(db, "ALTER TABLE changes ADD COLUMN flap_of INTEGER REFERENCES changes(id)")


@MIGRATIONS()
def m007_triage(db: Database) -> None:
    """Severity and status of changes, the expected-change register, acknowledgements,
    the outbox of messages, notification state and the evidence ledger."""
    _run(
        db,
        """
        ALTER TABLE changes ADD COLUMN severity TEXT NOT NULL DEFAULT 'low';
        ALTER TABLE changes ADD COLUMN reasons TEXT NOT NULL DEFAULT '[]';
        ALTER TABLE changes ADD COLUMN status TEXT NOT NULL DEFAULT 'untracked';
        ALTER TABLE changes ADD COLUMN expectation_id INTEGER;
        ALTER TABLE changes ADD COLUMN notified TEXT;
        ALTER TABLE changes ADD COLUMN reminded_at TEXT;
        CREATE INDEX changes_status ON changes (status, severity);
        CREATE TABLE expectations (
            id INTEGER PRIMARY KEY,
            created_at TEXT NOT NULL,
            key TEXT NOT NULL,
            field TEXT NOT NULL,
            value TEXT NOT NULL,
            until TEXT NOT NULL,
            by TEXT NOT NULL,
            note TEXT NOT NULL DEFAULT '',
            status TEXT NOT NULL DEFAULT 'open',
            met_change_id INTEGER REFERENCES changes(id),
            overdue_reported_at TEXT
        );
        CREATE INDEX expectations_key ON expectations (key, status);
        CREATE TABLE acknowledgements (
            id INTEGER PRIMARY KEY,
            change_id INTEGER NOT NULL REFERENCES changes(id),
            at TEXT NOT NULL,
            by TEXT NOT NULL,
            note TEXT NOT NULL DEFAULT ''
        );
        CREATE INDEX acknowledgements_change ON acknowledgements (change_id);
        CREATE TABLE outbox (
            id INTEGER PRIMARY KEY,
            created_at TEXT NOT NULL,
            kind TEXT NOT NULL,
            message_id TEXT NOT NULL UNIQUE,
            subject TEXT NOT NULL,
            recipients TEXT NOT NULL,
            message BLOB NOT NULL,
            status TEXT NOT NULL DEFAULT 'pending',
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at TEXT NOT NULL,
            last_error TEXT NOT NULL DEFAULT '',
            sent_at TEXT
        );
        CREATE INDEX outbox_pending ON outbox (status, next_attempt_at);
        CREATE TABLE notify_state (
            name TEXT PRIMARY KEY,
            value TEXT NOT NULL
        );
        CREATE TABLE ledger (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            event TEXT NOT NULL,
            ref INTEGER NOT NULL,
            body TEXT NOT NULL,
            prev TEXT NOT NULL,
            hash TEXT NOT NULL
        )
        """,
    )


@MIGRATIONS()
def m008_strikes(db: Database) -> None:
    """Consecutive failed checks of an entry (the link checker's broken-link count): reset
    when the entry is observed, kept only by crawls that were not failed."""
    _run(
        db,
        """
        CREATE TABLE strikes (
            source TEXT NOT NULL,
            key TEXT NOT NULL,
            count INTEGER NOT NULL,
            first_at TEXT NOT NULL,
            last_at TEXT NOT NULL,
            reason TEXT NOT NULL DEFAULT '',
            PRIMARY KEY (source, key)
        )
        """,
    )


@MIGRATIONS()
def m009_disagreements(db: Database) -> None:
    """Where the ZuFi (TSA) and the PVOG say different things about the same Leistung:
    since when, and when it was reported or ended."""
    _run(
        db,
        """
        CREATE TABLE disagreements (
            id INTEGER PRIMARY KEY,
            tsa_source TEXT NOT NULL,
            pvog_source TEXT NOT NULL,
            zufi_id TEXT NOT NULL,
            aspect TEXT NOT NULL,
            title TEXT NOT NULL DEFAULT '',
            office TEXT NOT NULL DEFAULT '',
            tsa_key TEXT NOT NULL,
            pvog_key TEXT NOT NULL,
            zufi_value TEXT NOT NULL,
            pvog_value TEXT NOT NULL,
            first_seen TEXT NOT NULL,
            last_seen TEXT NOT NULL,
            severity TEXT NOT NULL DEFAULT 'high',
            reported_at TEXT,
            resolved_at TEXT
        );
        CREATE INDEX disagreements_open ON disagreements (tsa_source, resolved_at)
        """,
    )


@MIGRATIONS()
def m010_shape_drift(db: Database) -> None:
    """What a crawl saw of its answers' shapes: per endpoint, the answers checked and the
    keys the parser does not know (JSON, see ``sources/drift.py``)."""
    _run(db, "ALTER TABLE crawls ADD COLUMN shapes TEXT NOT NULL DEFAULT '{}'")


@MIGRATIONS()
def m011_events(db: Database) -> None:
    """One edit, one event: the changes its witnesses (a ZuFi crawl, a PVOG crawl, a link
    check) report about it belong to it (``changes.event_id``); the working group's triage
    (severity, status, what was sent) is kept per event. Existing changes are grouped into
    events when the history is next opened for writing (``store/events.py``)."""
    _run(
        db,
        """
        CREATE TABLE events (
            id INTEGER PRIMARY KEY,
            subject TEXT NOT NULL,
            kind TEXT NOT NULL,
            key TEXT NOT NULL,
            source TEXT NOT NULL,
            title TEXT NOT NULL DEFAULT '',
            office TEXT NOT NULL DEFAULT '',
            opened_at TEXT NOT NULL,
            crawl_id INTEGER NOT NULL REFERENCES crawls(id),
            cause TEXT NOT NULL DEFAULT 'source',
            severity TEXT NOT NULL DEFAULT 'low',
            status TEXT NOT NULL DEFAULT 'untracked',
            notified TEXT,
            reminded_at TEXT
        );
        CREATE INDEX events_opened ON events (opened_at);
        CREATE INDEX events_subject ON events (subject, opened_at);
        CREATE INDEX events_status ON events (status, severity);
        CREATE TABLE witnesses (
            event_id INTEGER NOT NULL REFERENCES events(id),
            crawl_id INTEGER NOT NULL REFERENCES crawls(id),
            source TEXT NOT NULL,
            source_kind TEXT NOT NULL DEFAULT '',
            at TEXT NOT NULL,
            PRIMARY KEY (event_id, crawl_id)
        );
        ALTER TABLE changes ADD COLUMN event_id INTEGER REFERENCES events(id);
        CREATE INDEX changes_event ON changes (event_id)
        """,
    )


@MIGRATIONS()
def m012_withdrawals(db: Database) -> None:
    """Withdrawn expectations: who withdrew which open or overdue expectation, when and why
    (the expectation's status becomes ``withdrawn``); chained into the evidence ledger."""
    _run(
        db,
        """
        CREATE TABLE withdrawals (
            id INTEGER PRIMARY KEY,
            expectation_id INTEGER NOT NULL REFERENCES expectations(id),
            at TEXT NOT NULL,
            by TEXT NOT NULL,
            note TEXT NOT NULL DEFAULT ''
        );
        CREATE INDEX withdrawals_expectation ON withdrawals (expectation_id)
        """,
    )


@MIGRATIONS()
def m013_evidence(db: Database) -> None:
    """The evidence ledger covers what a reader sees: every record's identity, every
    version's content (with the title of the newest), every event and the grouping of
    changes into events (``store/ledger.py``). The rows already stored are chained now, in
    id order, at the time of the upgrade."""
    from ..timeutil import stored, system_clock
    from .ledger import chain_existing

    chain_existing(db.conn, stored(system_clock()))


@MIGRATIONS()
def m014_shapes_basis(db: Database) -> None:
    """Whether a crawl's shapes summary covers every answer it confirmed (``sources/drift.py``):
    the digest of the shapes a live crawl that read every listed entry checked its answers
    against, else empty. The next crawl walks the answers whose content is known only when
    it is its own digest. Earlier crawls have none (their next crawl walks everything)."""
    _run(db, "ALTER TABLE crawls ADD COLUMN shapes_basis TEXT NOT NULL DEFAULT ''")


@MIGRATIONS()
def m015_observed_volatile(db: Database) -> None:
    """A version's volatile fields as its latest observation saw them (a ``lastUpdate``
    that moves every day), apart from the version's row: updating them in place rewrote the
    whole row, content and all. Rows stored before keep their latest values in
    ``versions.volatile``, which is what :data:`VOLATILE` reads where no observation
    moved them since."""
    _run(db, """
        CREATE TABLE observed_volatile (
            version_id INTEGER PRIMARY KEY REFERENCES versions(id),
            volatile TEXT NOT NULL
        )
        """)
