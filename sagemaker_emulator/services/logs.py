"""CloudWatch Logs: the log groups, streams and events that jobs and endpoints write, and the reads
the SageMaker SDK's log tailing makes (its contract is in sdk-calls.md §5).

Event order within a stream is ingestion order (timestamps never go backwards within a stream).
Forward tokens are ``f/<sequence>``: a page starts after that event; an empty page hands the same
token back, which is how the SDK knows it has caught up.
"""

from __future__ import annotations

import fnmatch
import threading
import time
from typing import Any, Iterable

from sagemaker_emulator.aws.dispatch import RequestContext, operation
from sagemaker_emulator.aws.errors import AwsError
from sagemaker_emulator.state.database import Database

SCHEMA = [
    """CREATE TABLE IF NOT EXISTS log_groups (
        name TEXT PRIMARY KEY,
        creation_time INTEGER NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS log_streams (
        group_name TEXT NOT NULL,
        name TEXT NOT NULL,
        creation_time INTEGER NOT NULL,
        first_event INTEGER,
        last_event INTEGER,
        last_ingestion INTEGER,
        stored_bytes INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (group_name, name)
    )""",
    """CREATE TABLE IF NOT EXISTS log_events (
        sequence INTEGER PRIMARY KEY AUTOINCREMENT,
        group_name TEXT NOT NULL,
        stream_name TEXT NOT NULL,
        timestamp INTEGER NOT NULL,
        ingestion_time INTEGER NOT NULL,
        message TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS log_events_stream ON log_events (group_name, stream_name, sequence)",
]

TOKEN_WIDTH = 56
MAX_EVENTS_PER_PAGE = 10000


def now_ms() -> int:
    return int(time.time() * 1000)


def resource_not_found(message: str) -> AwsError:
    return AwsError("ResourceNotFoundException", message, 400)


def invalid_parameter(message: str) -> AwsError:
    return AwsError("InvalidParameterException", message, 400)


class LogStore:
    """Log events in SQLite. Writers' events are buffered and written in batches (one transaction
    per batch rather than per line, which costs milliseconds each on a busy disk); every read first
    writes what is buffered, so a reader always sees every event appended before it asked."""

    FLUSH_SECONDS = 0.2

    def __init__(self, db: Database) -> None:
        self.db = db
        db.ensure_schema(SCHEMA)
        self._pending: list[tuple[str, str, int, str]] = []
        self._pending_lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._wake = threading.Event()
        self._closed = False
        self._flusher = threading.Thread(target=self._flush_periodically, name="log-flusher", daemon=True)
        self._flusher.start()

    def close(self) -> None:
        self._closed = True
        self._wake.set()
        self._flusher.join(5)
        self.flush()

    def _flush_periodically(self) -> None:
        while not self._closed:
            self._wake.wait(self.FLUSH_SECONDS)
            self._wake.clear()
            self.flush()

    def flush(self) -> None:
        """Write every buffered event now."""
        with self._flush_lock:
            with self._pending_lock:
                pending, self._pending = self._pending, []
            by_stream: dict[tuple[str, str], list[tuple[int, str]]] = {}
            for group, stream, timestamp, message in pending:
                by_stream.setdefault((group, stream), []).append((timestamp, message))
            for (group, stream), events in by_stream.items():
                self._write(group, stream, events)

    # -- writing (used by jobs and endpoints) ----------------------------------------------
    def ensure_stream(self, group: str, stream: str) -> None:
        created = now_ms()
        with self.db.transaction() as connection:
            connection.execute("INSERT OR IGNORE INTO log_groups VALUES (?, ?)", (group, created))
            connection.execute(
                "INSERT OR IGNORE INTO log_streams (group_name, name, creation_time) VALUES (?, ?, ?)",
                (group, stream, created),
            )

    def append(self, group: str, stream: str, messages: Iterable[tuple[int, str]]) -> None:
        """Append (timestamp ms, message) events to a stream (buffered; see the class docstring)."""
        events = [(group, stream, timestamp, message) for timestamp, message in messages]
        if events:
            with self._pending_lock:
                self._pending.extend(events)

    def _write(self, group: str, stream: str, events: list[tuple[int, str]]) -> None:
        """Write events to a stream now, creating group and stream as needed."""
        ingested = now_ms()
        self.ensure_stream(group, stream)
        with self.db.transaction() as connection:
            connection.executemany(
                "INSERT INTO log_events (group_name, stream_name, timestamp, ingestion_time, message) "
                "VALUES (?, ?, ?, ?, ?)",
                [(group, stream, timestamp, ingested, message) for timestamp, message in events],
            )
            connection.execute(
                "UPDATE log_streams SET first_event = COALESCE(first_event, ?), last_event = ?, "
                "last_ingestion = ?, stored_bytes = stored_bytes + ? WHERE group_name = ? AND name = ?",
                (
                    events[0][0],
                    events[-1][0],
                    ingested,
                    sum(len(message.encode()) for _, message in events),
                    group,
                    stream,
                ),
            )

    def last_event_ms(self, group: str, stream: str) -> int | None:
        """The timestamp of a stream's last event (ms), or None when it has none."""
        self.flush()
        row = self.db.query_one("SELECT last_event FROM log_streams WHERE group_name = ? AND name = ?",
                                (group, stream))
        return row["last_event"] if row else None

    def messages(self, group: str, stream_prefix: str = "") -> list[tuple[str, str]]:
        """(stream, message) of every event in a group, for tests and diagnostics."""
        self.flush()
        rows = self.db.query(
            "SELECT stream_name, message FROM log_events WHERE group_name = ? AND stream_name >= ? "
            "ORDER BY sequence",
            (group, stream_prefix),
        )
        return [(row["stream_name"], row["message"]) for row in rows if row["stream_name"].startswith(stream_prefix)]

    # -- reading ---------------------------------------------------------------------------
    def require_group(self, group: str) -> None:
        if not self.db.query_one("SELECT 1 FROM log_groups WHERE name = ?", (group,)):
            raise resource_not_found("The specified log group does not exist.")

    def require_stream(self, group: str, stream: str) -> None:
        self.require_group(group)
        if not self.db.query_one(
            "SELECT 1 FROM log_streams WHERE group_name = ? AND name = ?", (group, stream)
        ):
            raise resource_not_found("The specified log stream does not exist.")


def _store(ctx: RequestContext) -> LogStore:
    store = ctx.emulator.logs
    store.flush()  # reads see every event appended before them
    return store


def _token(direction: str, sequence: int) -> str:
    return f"{direction}/{sequence:0{TOKEN_WIDTH}d}"


def _parse_token(token: str) -> tuple[str, int]:
    direction, _, number = token.partition("/")
    if direction not in ("f", "b") or not number.isdigit():
        raise invalid_parameter("The specified nextToken is invalid.")
    return direction, int(number)


def _event(row: Any) -> dict[str, Any]:
    return {"timestamp": row["timestamp"], "message": row["message"], "ingestionTime": row["ingestion_time"]}


@operation("logs", "GetLogEvents")
def get_log_events(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    store = _store(ctx)
    group, stream = params["logGroupName"], params["logStreamName"]
    store.require_stream(group, stream)
    limit = min(params.get("limit") or MAX_EVENTS_PER_PAGE, MAX_EVENTS_PER_PAGE)
    conditions = ["group_name = ?", "stream_name = ?"]
    values: list[Any] = [group, stream]
    if params.get("startTime") is not None:
        conditions.append("timestamp >= ?")
        values.append(params["startTime"])
    if params.get("endTime") is not None:
        conditions.append("timestamp < ?")
        values.append(params["endTime"])

    token = params.get("nextToken")
    if token:
        direction, sequence = _parse_token(token)
        forward = direction == "f"
        conditions.append("sequence > ?" if forward else "sequence < ?")
        values.append(sequence)
    else:
        forward = bool(params.get("startFromHead"))
        sequence = 0
    order = "ASC" if forward else "DESC"
    rows = store.db.query(
        f"SELECT sequence, timestamp, ingestion_time, message FROM log_events WHERE {' AND '.join(conditions)} "
        f"ORDER BY sequence {order} LIMIT ?",
        [*values, limit],
    )
    if not forward:
        rows = list(reversed(rows))
    if rows:
        next_forward, next_backward = _token("f", rows[-1]["sequence"]), _token("b", rows[0]["sequence"])
    elif token:  # nothing beyond the token: hand it back so the caller knows it has caught up
        next_forward = token if forward else _token("f", sequence - 1)
        next_backward = token if not forward else _token("b", sequence + 1)
    else:
        next_forward, next_backward = _token("f", 0), _token("b", 0)
    return {"events": [_event(row) for row in rows], "nextForwardToken": next_forward, "nextBackwardToken": next_backward}


@operation("logs", "DescribeLogStreams")
def describe_log_streams(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    store = _store(ctx)
    group = params.get("logGroupName")
    if not group:
        raise invalid_parameter("Either logGroupName or logGroupIdentifier is required.")
    store.require_group(group)
    prefix = params.get("logStreamNamePrefix") or ""
    order_by = params.get("orderBy") or "LogStreamName"
    if prefix and order_by == "LastEventTime":
        raise invalid_parameter("Cannot order by LastEventTime with a logStreamNamePrefix.")
    descending = bool(params.get("descending"))
    column = "name" if order_by == "LogStreamName" else "COALESCE(last_event, creation_time)"
    rows = store.db.query(
        f"SELECT * FROM log_streams WHERE group_name = ? AND substr(name, 1, ?) = ? "
        f"ORDER BY {column} {'DESC' if descending else 'ASC'}, name",
        (group, len(prefix), prefix),
    )
    page, next_token = _page(rows, params)
    streams = []
    for row in page:
        stream: dict[str, Any] = {
            "logStreamName": row["name"],
            "creationTime": row["creation_time"],
            "arn": f"arn:aws:logs:{ctx.region}:{ctx.account_id}:log-group:{group}:log-stream:{row['name']}",
            "storedBytes": row["stored_bytes"],
        }
        if row["first_event"] is not None:
            stream.update(
                firstEventTimestamp=row["first_event"],
                lastEventTimestamp=row["last_event"],
                lastIngestionTime=row["last_ingestion"],
                uploadSequenceToken="1",
            )
        streams.append(stream)
    result: dict[str, Any] = {"logStreams": streams}
    # Only when more streams exist: the SageMaker SDK re-asks without the token while one is present.
    if next_token:
        result["nextToken"] = next_token
    return result


def _page(rows: list[Any], params: dict[str, Any], default_limit: int = 50) -> tuple[list[Any], str | None]:
    """One page of ``rows`` after the request's nextToken, and the token of the next page if any."""
    offset = _offset(params.get("nextToken"))
    limit = params.get("limit") or default_limit
    more = offset + limit < len(rows)
    return rows[offset : offset + limit], f"s/{offset + limit}" if more else None


def _offset(token: str | None) -> int:
    if not token:
        return 0
    kind, _, number = token.partition("/")
    if kind != "s" or not number.isdigit():
        raise invalid_parameter("The specified nextToken is invalid.")
    return int(number)


@operation("logs", "FilterLogEvents")
def filter_log_events(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    store = _store(ctx)
    group = params.get("logGroupName")
    if not group:
        raise invalid_parameter("Either logGroupName or logGroupIdentifier is required.")
    store.require_group(group)
    conditions = ["group_name = ?"]
    values: list[Any] = [group]
    if params.get("logStreamNames"):
        names = params["logStreamNames"]
        conditions.append(f"stream_name IN ({','.join('?' * len(names))})")
        values.extend(names)
    if params.get("logStreamNamePrefix"):
        prefix = params["logStreamNamePrefix"]
        conditions.append("substr(stream_name, 1, ?) = ?")
        values.extend([len(prefix), prefix])
    if params.get("startTime") is not None:
        conditions.append("timestamp >= ?")
        values.append(params["startTime"])
    if params.get("endTime") is not None:
        conditions.append("timestamp <= ?")
        values.append(params["endTime"])
    after = _offset(params.get("nextToken"))
    conditions.append("sequence > ?")
    values.append(after)
    limit = min(params.get("limit") or MAX_EVENTS_PER_PAGE, MAX_EVENTS_PER_PAGE)
    matches = _pattern_matcher(params.get("filterPattern"))
    events: list[dict[str, Any]] = []
    last_sequence = after
    more = False
    for row in store.db.query(
        f"SELECT * FROM log_events WHERE {' AND '.join(conditions)} ORDER BY timestamp, sequence", values
    ):
        if len(events) == limit:
            more = True
            break
        last_sequence = max(last_sequence, row["sequence"])
        if matches(row["message"]):
            events.append(
                {
                    "logStreamName": row["stream_name"],
                    "timestamp": row["timestamp"],
                    "message": row["message"],
                    "ingestionTime": row["ingestion_time"],
                    "eventId": str(row["sequence"]).zfill(TOKEN_WIDTH),
                }
            )
    result: dict[str, Any] = {"events": events, "searchedLogStreams": []}
    if more:
        result["nextToken"] = f"s/{last_sequence}"
    return result


def _pattern_matcher(pattern: str | None):
    """CloudWatch's plain term patterns: every term must occur; quoted phrases are one term."""
    if not pattern or not pattern.strip():
        return lambda message: True
    import shlex

    try:
        terms = shlex.split(pattern)
    except ValueError:
        terms = pattern.split()
    if any(any(ch in term for ch in "*?") for term in terms):
        return lambda message: all(fnmatch.fnmatchcase(message, f"*{term}*") for term in terms)
    return lambda message: all(term in message for term in terms)


@operation("logs", "CreateLogGroup")
def create_log_group(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    store = _store(ctx)
    with store.db.transaction() as connection:
        cursor = connection.execute(
            "INSERT OR IGNORE INTO log_groups VALUES (?, ?)", (params["logGroupName"], now_ms())
        )
    if cursor.rowcount == 0:
        raise AwsError("ResourceAlreadyExistsException", "The specified log group already exists", 400)
    return {}


@operation("logs", "CreateLogStream")
def create_log_stream(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    store = _store(ctx)
    group, stream = params["logGroupName"], params["logStreamName"]
    store.require_group(group)
    with store.db.transaction() as connection:
        cursor = connection.execute(
            "INSERT OR IGNORE INTO log_streams (group_name, name, creation_time) VALUES (?, ?, ?)",
            (group, stream, now_ms()),
        )
    if cursor.rowcount == 0:
        raise AwsError("ResourceAlreadyExistsException", "The specified log stream already exists", 400)
    return {}


@operation("logs", "PutLogEvents")
def put_log_events(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    store = _store(ctx)
    group, stream = params["logGroupName"], params["logStreamName"]
    store.require_stream(group, stream)
    events = sorted(params["logEvents"], key=lambda event: event["timestamp"])
    store.append(group, stream, [(event["timestamp"], event["message"]) for event in events])
    return {"nextSequenceToken": "1"}


@operation("logs", "DescribeLogGroups")
def describe_log_groups(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    store = _store(ctx)
    prefix = params.get("logGroupNamePrefix") or ""
    rows = store.db.query(
        "SELECT g.name, g.creation_time, COALESCE(SUM(s.stored_bytes), 0) AS bytes FROM log_groups g "
        "LEFT JOIN log_streams s ON s.group_name = g.name WHERE substr(g.name, 1, ?) = ? "
        "GROUP BY g.name ORDER BY g.name",
        (len(prefix), prefix),
    )
    page, next_token = _page(rows, params)
    groups = [
        {
            "logGroupName": row["name"],
            "creationTime": row["creation_time"],
            "metricFilterCount": 0,
            "arn": f"arn:aws:logs:{ctx.region}:{ctx.account_id}:log-group:{row['name']}:*",
            "storedBytes": row["bytes"],
        }
        for row in page
    ]
    result: dict[str, Any] = {"logGroups": groups}
    if next_token:
        result["nextToken"] = next_token
    return result
