"""The ResourceStore's in-memory copy stays what SQLite holds: after every kind of write, under
concurrent writers, after a failed write, and after a restart."""

from __future__ import annotations

import random
import threading

import pytest

from sagemaker_emulator.services.sagemaker.search import search
from sagemaker_emulator.services.sagemaker.store import ResourceStore, public
from sagemaker_emulator.state.database import Database

from .conftest import add_job, arn, training_job


def copy_state(store: ResourceStore, kind: str = "TrainingJob") -> dict[str, tuple]:
    return {entry.name: (entry.status, entry.document, entry.tags) for entry in store.resources(kind)}


def sqlite_state(store: ResourceStore, kind: str = "TrainingJob") -> dict[str, tuple]:
    rows = store.db.query("SELECT name, status, arn FROM sagemaker_resources WHERE kind = ?", (kind,))
    return {row["name"]: (row["status"], store.get(kind, row["name"]), tuple(store.list_tags(row["arn"])))
            for row in rows}


def test_every_write_reaches_the_copy(store):
    assert store.resources("TrainingJob") == []  # loads the (empty) kind
    add_job(store, training_job("a", 0), {"team": "x"})
    add_job(store, training_job("b", 1))
    assert copy_state(store) == sqlite_state(store)

    store.update("TrainingJob", "A", lambda d: d.update(TrainingJobStatus="Stopped"), status_key="TrainingJobStatus")
    assert store.resource("TrainingJob", "a").status == "Stopped"
    assert store.resource("TrainingJob", "a").document["TrainingJobStatus"] == "Stopped"

    store.add_tags(arn("training-job", "b"), [{"Key": "k", "Value": "1"}, {"Key": "team", "Value": "y"}])
    store.add_tags(arn("training-job", "b"), [{"Key": "k", "Value": "2"}])
    assert store.resource("TrainingJob", "b").tags == ({"Key": "k", "Value": "2"}, {"Key": "team", "Value": "y"})
    store.delete_tags(arn("training-job", "b"), ["k"])
    assert store.resource("TrainingJob", "b").tags == ({"Key": "team", "Value": "y"},)
    assert copy_state(store) == sqlite_state(store)

    store.delete("TrainingJob", "a")
    assert store.resource("TrainingJob", "a") is None
    assert copy_state(store) == sqlite_state(store)
    # a new resource under a deleted one's name starts without the old tags
    add_job(store, training_job("a", 2))
    assert store.resource("TrainingJob", "a").tags == ()


def test_writes_before_the_first_read_are_loaded_from_sqlite(store):
    add_job(store, training_job("early", 0), {"team": "x"})
    store.update("TrainingJob", "early", lambda d: d.update(HyperParameters={"k": "3"}))
    (entry,) = store.resources("TrainingJob")
    assert entry.document["HyperParameters"] == {"k": "3"}
    assert entry.tags == ({"Key": "team", "Value": "x"},)


def test_a_failed_update_changes_nothing(store):
    add_job(store, training_job("a", 0))
    before = store.resource("TrainingJob", "a")

    def broken(document):
        document["TrainingJobStatus"] = "Failed"
        raise RuntimeError("bug in a change function")

    with pytest.raises(RuntimeError):
        store.update("TrainingJob", "a", broken, status_key="TrainingJobStatus")
    assert store.resource("TrainingJob", "a") is before
    assert store.get("TrainingJob", "a")["TrainingJobStatus"] == "Completed"


def test_readers_get_private_copies_and_the_copy_is_not_shared_with_writers(store):
    document = training_job("a", 0)
    add_job(store, document)
    document["TrainingJobStatus"] = "changed by the caller after insert"
    fetched = store.get("TrainingJob", "a")
    fetched["HyperParameters"]["k"] = "mutated"
    returned = store.update("TrainingJob", "a", lambda d: d.update(SecondaryStatus="Completed"))
    returned["HyperParameters"]["k"] = "mutated too"
    entry = store.resource("TrainingJob", "a")
    assert entry.document["TrainingJobStatus"] == "Completed"
    assert entry.document["HyperParameters"] == {}


def test_snapshots_stay_until_the_next_write(store):
    add_job(store, training_job("a", 0))
    first = store.snapshot("TrainingJob")
    assert store.snapshot("TrainingJob") is first
    store.snapshot("Model")
    store.insert("Model", "m", arn("model", "m"), {"ModelName": "m"})
    assert store.snapshot("TrainingJob") is first  # other kinds' writes leave it alone
    store.add_tags(arn("training-job", "a"), [{"Key": "k", "Value": "v"}])
    second = store.snapshot("TrainingJob")
    assert second is not first
    assert first.entries[0].tags == ()  # an old snapshot never changes under its reader
    assert second.entries[0].tags == ({"Key": "k", "Value": "v"},)


def test_documents_are_oldest_first(store):
    for index in (2, 0, 1):
        add_job(store, training_job(f"j{index}", index))
    assert [document["TrainingJobName"] for document in store.documents("TrainingJob")] == ["j0", "j1", "j2"]


def test_a_restarted_store_reads_the_same_state(tmp_path):
    db = Database(tmp_path / "metadata.sqlite3")
    store = ResourceStore(db)
    store.resources("TrainingJob")
    add_job(store, training_job("a", 0, metrics={"acc": 0.5}), {"team": "x"})
    store.update("TrainingJob", "a", lambda d: d.update(TrainingJobStatus="Stopped"), status_key="TrainingJobStatus")
    before = copy_state(store)
    db.close()
    again = ResourceStore(Database(tmp_path / "metadata.sqlite3"))
    assert copy_state(again) == before
    response = search(again, {"Resource": "TrainingJob", "SearchExpression": {"Filters": [
        {"Name": "Metrics.acc", "Operator": "Equals", "Value": "0.5"},
        {"Name": "Tags.team", "Operator": "Equals", "Value": "x"},
        {"Name": "TrainingJobStatus", "Operator": "Equals", "Value": "Stopped"}]}})
    assert [r["TrainingJob"]["TrainingJobName"] for r in response["Results"]] == ["a"]


def test_concurrent_writers_and_searchers_agree_with_sqlite(store):
    """Job threads update documents and tags while searches run; every search sees whole writes
    (a job's status and its counter always move together), and at the end the copy equals SQLite."""
    names = [f"job-{index}" for index in range(20)]
    for index, name in enumerate(names):
        add_job(store, training_job(name, index, metrics={"step": 0.0}, Counter=0), {"step": "0"})
    stop = threading.Event()
    problems: list[str] = []

    def writer(seed: int) -> None:
        rng = random.Random(seed)
        for step in range(1, 150):
            name = rng.choice(names)

            def change(document, step=step):
                document["Counter"] += 1
                document["TrainingJobStatus"] = "Odd" if document["Counter"] % 2 else "Even"
                document["FinalMetricDataList"] = [{"MetricName": "step", "Value": float(document["Counter"])}]

            store.update("TrainingJob", name, change, status_key="TrainingJobStatus")
            store.add_tags(arn("training-job", name), [{"Key": "step", "Value": str(step)}])

    def searcher() -> None:
        while not stop.is_set():
            for record in search(store, {"Resource": "TrainingJob", "MaxResults": 100})["Results"]:
                job = record["TrainingJob"]
                counter = job.get("Counter", 0)
                expected = "Completed" if counter == 0 else ("Odd" if counter % 2 else "Even")
                if job["TrainingJobStatus"] != expected:
                    problems.append(f"{job['TrainingJobName']}: {job['TrainingJobStatus']} at {counter}")
                if job["FinalMetricDataList"][0]["Value"] != float(counter):
                    problems.append(f"{job['TrainingJobName']}: metric behind its counter")
            odd = search(store, {"Resource": "TrainingJob", "MaxResults": 100, "SearchExpression": {
                "Filters": [{"Name": "TrainingJobStatus", "Operator": "Equals", "Value": "Odd"}]}})
            for record in odd["Results"]:
                if record["TrainingJob"]["Counter"] % 2 != 1:
                    problems.append("the status index disagrees with the document")

    writers = [threading.Thread(target=writer, args=(seed,)) for seed in range(4)]
    searchers = [threading.Thread(target=searcher) for _ in range(2)]
    for thread in writers + searchers:
        thread.start()
    for thread in writers:
        thread.join()
    stop.set()
    for thread in searchers:
        thread.join()
    assert problems == []
    assert copy_state(store) == sqlite_state(store)
    total = sum(entry.document["Counter"] for entry in store.resources("TrainingJob"))
    assert total == 4 * 149


def test_public_leaves_internal_keys_out():
    assert public({"A": 1, "_B": 2}) == {"A": 1}
