"""Two builders write a producer's batches: aiokafka's compiled one (once a Producer loaded it)
and the pure-Python one (before that, and for what the compiled one does not do). A batch must
not depend on which one built it: same bytes, same CRC, read back the same."""

from __future__ import annotations

from typing import Any, Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from broker_core import record_batch
from broker_core.record_batch import RecordBatch, build_batch, load_compiled_builder, verify_crc

_blobs = st.one_of(st.none(), st.binary(max_size=300))
_headers = st.lists(st.tuples(st.text(max_size=12), _blobs), max_size=3).map(tuple)
_records = st.lists(st.tuples(_blobs, _blobs, _headers, st.integers(min_value=0, max_value=2**45)),
                    min_size=1, max_size=40)
_batch_fields = st.fixed_dictionaries({
    "base_offset": st.integers(min_value=0, max_value=2**62),
    "producer_id": st.integers(min_value=-1, max_value=2**62),
    "producer_epoch": st.integers(min_value=-1, max_value=2**15 - 1),
    "base_sequence": st.integers(min_value=-1, max_value=2**31 - 1),
    "partition_leader_epoch": st.integers(min_value=-1, max_value=2**31 - 1),
    "is_transactional": st.booleans(),
})


def _pure(records: list[Any], **fields: Any) -> bytearray:
    saved = record_batch._compiled_builder
    record_batch._compiled_builder = None
    try:
        return build_batch(records, **fields)
    finally:
        record_batch._compiled_builder = saved


@pytest.fixture(autouse=True, scope="module")
def compiled() -> Iterator[None]:
    if load_compiled_builder() is None:
        pytest.skip("aiokafka's compiled builder is not installed here: only the pure-Python one builds")
    yield


@settings(max_examples=300, deadline=None)
@given(records=_records, fields=_batch_fields)
def test_both_builders_write_the_same_bytes(records: list[Any], fields: dict[str, Any]) -> None:
    compiled = build_batch(records, **fields)
    pure = _pure(records, **fields)
    assert bytes(compiled) == bytes(pure)
    verify_crc(compiled)
    read = list(RecordBatch(bytes(compiled)).records())
    assert [(r.key, r.value, tuple(r.headers), r.timestamp) for r in read] == [tuple(r) for r in records]
    assert [r.offset for r in read] == list(range(fields["base_offset"], fields["base_offset"] + len(records)))


def test_batches_the_compiled_builder_does_not_write_are_still_built() -> None:
    """LogAppendTime, compression, control batches and compacted offsets: the pure builder's."""
    records = [(b"k", b"v" * 50, (), 1_000), (None, b"w" * 50, (), 2_000)]
    stamped = build_batch(records, log_append_time=5_000)
    assert RecordBatch(bytes(stamped)).header.max_timestamp == 5_000
    compressed = build_batch(records, compression=record_batch.Compression.GZIP)
    assert [r.value for r in RecordBatch(bytes(compressed)).records()] == [b"v" * 50, b"w" * 50]
    gapped = build_batch(records, base_offset=10, offset_deltas=[0, 3])
    assert [r.offset for r in RecordBatch(bytes(gapped)).records()] == [10, 13]
