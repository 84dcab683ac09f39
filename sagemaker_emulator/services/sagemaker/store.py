"""SageMaker resources (training jobs, models, endpoint configs, endpoints) as JSON documents in SQLite.

A document is the resource's Describe* answer. Names are unique per kind regardless of case, as in
SageMaker (whose ARNs carry the lower-cased name). Keys that start with ``_`` are internal (process
ids, workspaces) and never returned to clients.
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


class ResourceStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        db.ensure_schema(SCHEMA)
        self.changed = threading.Condition()

    # -- documents -------------------------------------------------------------------------
    def insert(self, kind: str, name: str, arn: str, document: dict[str, Any], status: str | None = None) -> bool:
        """Store a new resource; False when one of that kind and name already exists."""
        now = utcnow().timestamp()
        created = document.get("CreationTime")
        created_ts = created.timestamp() if isinstance(created, datetime) else now
        with self.db.transaction() as connection:
            cursor = connection.execute(
                "INSERT OR IGNORE INTO sagemaker_resources VALUES (?, ?, ?, ?, ?, ?, ?)",
                (kind, name, arn, status, created_ts, now, dumps(document)),
            )
            inserted = cursor.rowcount == 1
        self._notify()
        return inserted

    def get(self, kind: str, name: str) -> dict[str, Any] | None:
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
        self._notify()
        return document

    def delete(self, kind: str, name: str) -> dict[str, Any] | None:
        with self.db.transaction() as connection:
            row = connection.execute(
                "SELECT arn, document FROM sagemaker_resources WHERE kind = ? AND name = ?", (kind, name)
            ).fetchone()
            if row is None:
                return None
            connection.execute("DELETE FROM sagemaker_resources WHERE kind = ? AND name = ?", (kind, name))
            connection.execute("DELETE FROM sagemaker_tags WHERE arn = ?", (row["arn"],))
        self._notify()
        return loads(row["document"])

    def scan(self, kind: str, statuses: tuple[str, ...] | None = None) -> Iterator[dict[str, Any]]:
        sql = "SELECT document FROM sagemaker_resources WHERE kind = ?"
        params: list[Any] = [kind]
        if statuses:
            sql += f" AND status IN ({','.join('?' * len(statuses))})"
            params.extend(statuses)
        for row in self.db.query(sql + " ORDER BY creation_time", params):
            yield loads(row["document"])

    def wait_for_change(self, timeout: float) -> None:
        with self.changed:
            self.changed.wait(timeout)

    def _notify(self) -> None:
        with self.changed:
            self.changed.notify_all()

    # -- tags ------------------------------------------------------------------------------
    def add_tags(self, arn: str, tags: list[dict[str, str]]) -> None:
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

    def list_tags(self, arn: str) -> list[dict[str, str]]:
        rows = self.db.query("SELECT key, value FROM sagemaker_tags WHERE arn = ? ORDER BY position", (arn,))
        return [{"Key": row["key"], "Value": row["value"]} for row in rows]

    def delete_tags(self, arn: str, keys: list[str]) -> None:
        with self.db.transaction() as connection:
            connection.executemany(
                "DELETE FROM sagemaker_tags WHERE arn = ? AND key = ?", [(arn, key) for key in keys]
            )
