"""SageMaker resources (training jobs, models, endpoint configs, endpoints) as JSON documents in SQLite.

A document is the resource's Describe* answer. Names are unique per kind regardless of case, as in
SageMaker (whose ARNs carry the lower-cased name). Keys that start with ``_`` are internal (process
ids, workspaces) and never returned to clients.

SQLite is the source of truth. Next to it the store keeps, per kind and from the first time the kind
is read in bulk (:meth:`ResourceStore.snapshot`, ``resources``, ``documents``, ``resource``), an
in-memory copy of every decoded document and its tags: Search and the List* operations read that
copy instead of decoding thousands of JSON documents per request. Every write goes through this
class; each one holds the store's lock across its SQLite transaction and the matching change to the
copy, so a reader sees the copy as it was before or after a write, never half of one, and never a
change that SQLite rolled back. (So a write must not run inside an outer ``Database.transaction()``
that may still roll back; none in the server does.) Entries are never changed in place: a write replaces the
entry, with a freshly decoded document, as a whole, so the entries of a :class:`Snapshot` can be
used without locks while writers go on, and ``get``/``update`` callers' copies are never shared
with it. After a restart the copy is rebuilt from SQLite on first use: it is exactly as durable as
the database.
"""

from __future__ import annotations

import json
import threading
from datetime import datetime, timezone
from typing import Any, Callable, Iterator

from sagemaker_emulator.state.database import Database

SCHEMA = [
    """CREATE TABLE IF NOT EXISTS sagemaker_resources (
        kind TEXT NOT NULL,
        name TEXT NOT NULL COLLATE NOCASE,
        arn TEXT NOT NULL,
        status TEXT,
        creation_time REAL NOT NULL,
        last_modified_time REAL NOT NULL,
        document TEXT NOT NULL,
        PRIMARY KEY (kind, name)
    )""",
    "CREATE INDEX IF NOT EXISTS sagemaker_resources_created ON sagemaker_resources (kind, creation_time)",
    "CREATE UNIQUE INDEX IF NOT EXISTS sagemaker_resources_arn ON sagemaker_resources (arn)",
    """CREATE TABLE IF NOT EXISTS sagemaker_tags (
        arn TEXT NOT NULL,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        position INTEGER NOT NULL,
        PRIMARY KEY (arn, key)
    )""",
]

_TIMESTAMP = "$ts"
_ROW = "kind, name, arn, status, creation_time, last_modified_time, document"


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        return {_TIMESTAMP: value.timestamp()}
    raise TypeError(f"cannot store {type(value).__name__}")


def _decode(mapping: dict[str, Any]) -> Any:
    if len(mapping) == 1 and _TIMESTAMP in mapping:
        return datetime.fromtimestamp(mapping[_TIMESTAMP], timezone.utc)
    return mapping


def dumps(document: dict[str, Any]) -> str:
    return json.dumps(document, default=_encode, separators=(",", ":"))


def loads(text: str) -> dict[str, Any]:
    return json.loads(text, object_hook=_decode)


def public(document: dict[str, Any]) -> dict[str, Any]:
    """The document without internal keys, as a client sees it."""
    return {key: value for key, value in document.items() if not key.startswith("_")}


class Resource:
    """One resource as the in-memory copy holds it: read-only, replaced as a whole on every write.

    ``document`` is shared by every reader and must never be modified; take a copy (or use
    :meth:`ResourceStore.get`) to change anything. ``tags`` are ``{"Key", "Value"}`` pairs in
    ListTags order. ``memo`` holds values derived from this entry by readers (Search keeps its
    per-entry view there); since the entry never changes, they stay valid for its lifetime.
    """

    __slots__ = ("kind", "name", "arn", "status", "creation_time", "last_modified_time", "document", "tags", "memo")

    def __init__(
        self, kind: str, name: str, arn: str, status: str | None, creation_time: float,
        last_modified_time: float, document: dict[str, Any], tags: tuple[dict[str, str], ...],
    ) -> None:
        self.kind = kind
        self.name = name
        self.arn = arn
        self.status = status
        self.creation_time = creation_time
        self.last_modified_time = last_modified_time
        self.document = document
        self.tags = tags
        self.memo: dict[str, Any] = {}

    def with_tags(self, tags: tuple[dict[str, str], ...]) -> "Resource":
        return Resource(self.kind, self.name, self.arn, self.status, self.creation_time,
                        self.last_modified_time, self.document, tags)

    def __repr__(self) -> str:
        return f"Resource({self.kind}, {self.name!r}, {self.status!r})"


class Snapshot:
    """Every resource of one kind at one moment (read-only entries, in no order). A write to the
    kind replaces the snapshot, so ``memo`` may keep what readers derive from ``entries`` (Search
    keeps its records and indexes there) for as long as nothing changes."""

    __slots__ = ("kind", "entries", "memo")

    def __init__(self, kind: str, entries: tuple[Resource, ...]) -> None:
        self.kind = kind
        self.entries = entries
        self.memo: dict[Any, Any] = {}


class ResourceStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        db.ensure_schema(SCHEMA)
        self.changed = threading.Condition()
        # Held across each write's SQLite transaction and its change to the copy. Always taken
        # before the database's own lock (every write starts here), never after it.
        self._lock = threading.RLock()
        self._kinds: dict[str, dict[str, Resource]] = {}  # kind -> lower-cased name -> entry
        self._arns: dict[str, tuple[str, str]] = {}  # arn -> (kind, lower-cased name), loaded kinds only
        self._snapshots: dict[str, Snapshot] = {}  # kind -> its current snapshot, until the next write

    # -- documents -------------------------------------------------------------------------
    def insert(self, kind: str, name: str, arn: str, document: dict[str, Any], status: str | None = None) -> bool:
        """Store a new resource; False when one of that kind and name already exists."""
        now = utcnow().timestamp()
        created = document.get("CreationTime")
        created_ts = created.timestamp() if isinstance(created, datetime) else now
        with self._lock:
            with self.db.transaction() as connection:
                cursor = connection.execute(
                    "INSERT OR IGNORE INTO sagemaker_resources VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (kind, name, arn, status, created_ts, now, dumps(document)),
                )
                inserted = cursor.rowcount == 1
                fresh = self._read_entry(connection, kind, name) if inserted else None
            if fresh is not None:
                self._put(fresh)
        self._notify()
        return inserted

    def get(self, kind: str, name: str) -> dict[str, Any] | None:
        """A private, freshly decoded copy of the document (the caller may change it)."""
        row = self.db.query_one(
            "SELECT document FROM sagemaker_resources WHERE kind = ? AND name = ?", (kind, name)
        )
        return loads(row["document"]) if row else None

    def get_by_arn(self, arn: str) -> tuple[str, dict[str, Any]] | None:
        row = self.db.query_one("SELECT kind, document FROM sagemaker_resources WHERE arn = ?", (arn,))
        return (row["kind"], loads(row["document"])) if row else None

    def update(
        self, kind: str, name: str, change: Callable[[dict[str, Any]], Any], status_key: str | None = None
    ) -> dict[str, Any] | None:
        """Apply ``change`` to the stored document in one transaction; returns the new document."""
        with self._lock:
            with self.db.transaction() as connection:
                row = connection.execute(
                    "SELECT document FROM sagemaker_resources WHERE kind = ? AND name = ?", (kind, name)
                ).fetchone()
                if row is None:
                    return None
                document = loads(row["document"])
                change(document)
                status = document.get(status_key) if status_key else None
                connection.execute(
                    "UPDATE sagemaker_resources SET document = ?, status = COALESCE(?, status), "
                    "last_modified_time = ? WHERE kind = ? AND name = ?",
                    (dumps(document), status, utcnow().timestamp(), kind, name),
                )
                fresh = self._read_entry(connection, kind, name)
            if fresh is not None:
                self._put(fresh)
        self._notify()
        return document

    def delete(self, kind: str, name: str) -> dict[str, Any] | None:
        with self._lock:
            with self.db.transaction() as connection:
                row = connection.execute(
                    "SELECT arn, document FROM sagemaker_resources WHERE kind = ? AND name = ?", (kind, name)
                ).fetchone()
                if row is None:
                    return None
                connection.execute("DELETE FROM sagemaker_resources WHERE kind = ? AND name = ?", (kind, name))
                connection.execute("DELETE FROM sagemaker_tags WHERE arn = ?", (row["arn"],))
            self._drop(kind, name, row["arn"])
        self._notify()
        return loads(row["document"])

    def scan(self, kind: str, statuses: tuple[str, ...] | None = None) -> Iterator[dict[str, Any]]:
        """Private, freshly decoded copies of every document of ``kind``, oldest first (from SQLite)."""
        sql = "SELECT document FROM sagemaker_resources WHERE kind = ?"
        params: list[Any] = [kind]
        if statuses:
            sql += f" AND status IN ({','.join('?' * len(statuses))})"
            params.extend(statuses)
        for row in self.db.query(sql + " ORDER BY creation_time", params):
            yield loads(row["document"])

    # -- the in-memory copy ------------------------------------------------------------------
    def snapshot(self, kind: str) -> Snapshot:
        """Every resource of ``kind`` as of now; the same object until the next write to the kind."""
        with self._lock:
            snapshot = self._snapshots.get(kind)
            if snapshot is None:
                snapshot = self._snapshots[kind] = Snapshot(kind, tuple(self._loaded(kind).values()))
            return snapshot

    def resources(self, kind: str) -> list[Resource]:
        """A consistent snapshot of every resource of ``kind`` (read-only entries, in no order)."""
        return list(self.snapshot(kind).entries)

    def documents(self, kind: str) -> list[dict[str, Any]]:
        """The shared, read-only documents of every resource of ``kind``, oldest first.

        For readers that only look (the List* operations); never modify what this returns."""
        snapshot = self.snapshot(kind)
        documents = snapshot.memo.get("documents")
        if documents is None:
            entries = sorted(snapshot.entries, key=lambda entry: (entry.creation_time, entry.name))
            documents = snapshot.memo["documents"] = [entry.document for entry in entries]
        return list(documents)

    def resource(self, kind: str, name: str) -> Resource | None:
        with self._lock:
            return self._loaded(kind).get(name.lower())

    def _loaded(self, kind: str) -> dict[str, Resource]:
        entries = self._kinds.get(kind)
        if entries is None:
            entries = self._load(kind)
        return entries

    def _load(self, kind: str) -> dict[str, Resource]:
        """Read every resource of ``kind`` and its tags from SQLite (caller holds the lock)."""
        # Every write of these tables holds the store's lock, which the caller holds: the two
        # reads see the same state.
        rows = self.db.query(f"SELECT {_ROW} FROM sagemaker_resources WHERE kind = ?", (kind,))
        tag_rows = self.db.query(
            "SELECT t.arn, t.key, t.value FROM sagemaker_tags AS t JOIN sagemaker_resources AS r "
            "ON r.arn = t.arn WHERE r.kind = ? ORDER BY t.arn, t.position",
            (kind,),
        )
        tags: dict[str, list[dict[str, str]]] = {}
        for row in tag_rows:
            tags.setdefault(row["arn"], []).append({"Key": row["key"], "Value": row["value"]})
        entries: dict[str, Resource] = {}
        for row in rows:
            entry = _entry(row, tuple(tags.get(row["arn"], ())))
            entries[entry.name.lower()] = entry
            self._arns[entry.arn] = (kind, entry.name.lower())
        self._kinds[kind] = entries
        return entries

    def _read_entry(self, connection, kind: str, name: str) -> Resource | None:
        """The entry as just written, for the copy; None while the kind is not loaded (it will be
        read from SQLite when first needed, so there is nothing to keep up to date)."""
        if kind not in self._kinds:
            return None
        row = connection.execute(
            f"SELECT {_ROW} FROM sagemaker_resources WHERE kind = ? AND name = ?", (kind, name)
        ).fetchone()
        return _entry(row, _read_tags(connection, row["arn"]))

    def _put(self, entry: Resource) -> None:
        self._snapshots.pop(entry.kind, None)
        self._kinds[entry.kind][entry.name.lower()] = entry
        self._arns[entry.arn] = (entry.kind, entry.name.lower())

    def _drop(self, kind: str, name: str, arn: str) -> None:
        self._snapshots.pop(kind, None)
        entries = self._kinds.get(kind)
        if entries is not None:
            entries.pop(name.lower(), None)
        self._arns.pop(arn, None)

    def wait_for_change(self, timeout: float) -> None:
        with self.changed:
            self.changed.wait(timeout)

    def _notify(self) -> None:
        with self.changed:
            self.changed.notify_all()

    # -- tags ------------------------------------------------------------------------------
    def add_tags(self, arn: str, tags: list[dict[str, str]]) -> None:
        with self._lock:
            with self.db.transaction() as connection:
                row = connection.execute(
                    "SELECT COALESCE(MAX(position), -1) AS top FROM sagemaker_tags WHERE arn = ?", (arn,)
                ).fetchone()
                position = row["top"] + 1
                for tag in tags:
                    existing = connection.execute(
                        "SELECT position FROM sagemaker_tags WHERE arn = ? AND key = ?", (arn, tag["Key"])
                    ).fetchone()
                    connection.execute(
                        "INSERT OR REPLACE INTO sagemaker_tags VALUES (?, ?, ?, ?)",
                        (arn, tag["Key"], tag.get("Value", ""), existing["position"] if existing else position),
                    )
                    if not existing:
                        position += 1
                fresh = _read_tags(connection, arn) if arn in self._arns else None
            if fresh is not None:
                self._set_tags(arn, fresh)

    def list_tags(self, arn: str) -> list[dict[str, str]]:
        rows = self.db.query("SELECT key, value FROM sagemaker_tags WHERE arn = ? ORDER BY position", (arn,))
        return [{"Key": row["key"], "Value": row["value"]} for row in rows]

    def delete_tags(self, arn: str, keys: list[str]) -> None:
        with self._lock:
            with self.db.transaction() as connection:
                connection.executemany(
                    "DELETE FROM sagemaker_tags WHERE arn = ? AND key = ?", [(arn, key) for key in keys]
                )
                fresh = _read_tags(connection, arn) if arn in self._arns else None
            if fresh is not None:
                self._set_tags(arn, fresh)

    def _set_tags(self, arn: str, tags: tuple[dict[str, str], ...]) -> None:
        kind, key = self._arns[arn]
        self._snapshots.pop(kind, None)
        entry = self._kinds[kind].get(key)
        if entry is not None:
            self._kinds[kind][key] = entry.with_tags(tags)


def _entry(row, tags: tuple[dict[str, str], ...]) -> Resource:
    return Resource(
        row["kind"], row["name"], row["arn"], row["status"], row["creation_time"], row["last_modified_time"],
        loads(row["document"]), tags,
    )


def _read_tags(connection, arn: str) -> tuple[dict[str, str], ...]:
    rows = connection.execute(
        "SELECT key, value FROM sagemaker_tags WHERE arn = ? ORDER BY position", (arn,)
    ).fetchall()
    return tuple({"Key": row["key"], "Value": row["value"]} for row in rows)
