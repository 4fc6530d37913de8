"""The in-memory record store is a faithful twin: the same tests run against it and against S3
(moto_server over HTTP), so the property test's conclusions hold for the store that runs."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest

from chalicelib.records import InMemoryRecordStore, RecordStore, S3RecordStore
from devstack import stack

pytestmark = pytest.mark.stack


@pytest.fixture(params=["in-memory", "s3"])
def store(request: pytest.FixtureRequest) -> Iterator[RecordStore]:
    if request.param == "in-memory":
        yield InMemoryRecordStore()
        return
    config: stack.StackConfig = request.getfixturevalue("aws_environment")
    yield S3RecordStore(stack.aws_client(config, "s3"), stack.BUCKET, f"state/conformance-{secrets.token_hex(4)}/")


def test_create_only_writes_once(store: RecordStore) -> None:
    first = store.create("claims/k.json", {"export_id": "a"})
    assert first is not None
    assert store.create("claims/k.json", {"export_id": "b"}) is None
    stored = store.read("claims/k.json")
    assert stored is not None and stored.body == {"export_id": "a"} and stored.version == first


def test_replace_and_delete_only_match_the_version_read(store: RecordStore) -> None:
    version = store.create("r.json", {"n": 1})
    assert version is not None
    newer = store.replace("r.json", {"n": 2}, version)
    assert newer is not None and newer != version
    assert store.replace("r.json", {"n": 3}, version) is None  # lost the race: someone wrote first
    assert store.delete("r.json", version) is False
    assert store.delete("r.json", newer) is True
    assert store.read("r.json") is None
    assert store.delete("r.json", newer) is False  # gone: a conditional delete finds nothing to match


def test_names_are_ascending_and_limited(store: RecordStore) -> None:
    for name in ("h/3", "h/1", "h/2", "other/1"):
        store.put(name, {})
    assert store.names("h/") == ["h/1", "h/2", "h/3"]
    assert store.names("h/", limit=2) == ["h/1", "h/2"]
