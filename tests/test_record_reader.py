"""The consumers' decoder (broker_core.record_reader): aiokafka's compiled batch reader must
give exactly the records, and the errors, of record_batch's pure-Python one."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from broker_core import record_reader
from broker_core.errors import InvalidRecord
from broker_core.record_batch import Compression, build_batch
from broker_core.record_reader import append_consumer_records

optional_bytes = st.one_of(st.none(), st.binary(max_size=200))
headers = st.lists(st.tuples(st.text(max_size=12), optional_bytes), max_size=3).map(tuple)
records = st.lists(st.tuples(optional_bytes, optional_bytes, headers, st.integers(min_value=0, max_value=2**45)),
                   min_size=1, max_size=20)


def read(data: bytes, *, compiled: bool, from_offset: int = 0, upto: int = 2**62, limit: float = float("inf"),
         budget: float = float("inf")) -> tuple[list, int, float]:
    saved = record_reader.load_compiled_reader()
    record_reader._compiled = saved if compiled else None
    try:
        out: list = []
        taken, left = append_consumer_records(out, "t", 3, data, from_offset, upto, limit, budget)
        return out, taken, left
    finally:
        record_reader._compiled = saved


def test_the_compiled_reader_is_there() -> None:
    # aiokafka's wheels carry it; without it every read would take the slow path unnoticed.
    assert record_reader.load_compiled_reader() is not None


@settings(max_examples=120, deadline=None)
@given(records, st.integers(min_value=0, max_value=2**40), st.sampled_from(list(Compression)),
       st.booleans(), st.integers(min_value=0, max_value=25), st.integers(min_value=0, max_value=25),
       st.integers(min_value=1, max_value=25), st.integers(min_value=1, max_value=3000))
def test_compiled_and_pure_python_reads_agree(rows, base, codec, append_time, skip, cut, limit, budget) -> None:
    batch = bytes(build_batch(rows, base_offset=base, compression=codec,
                              log_append_time=2**41 if append_time else None))
    for kwargs in ({}, {"from_offset": base + skip, "upto": base + skip + cut, "limit": limit, "budget": budget}):
        assert read(batch, compiled=True, **kwargs) == read(batch, compiled=False, **kwargs)
    records_read = read(batch, compiled=True)[0]
    assert [(r.offset, r.key, r.value, r.headers, r.topic, r.partition) for r in records_read] == [
        (base + i, key, value, tuple(hs), "t", 3) for i, (key, value, hs, _) in enumerate(rows)]


def test_a_batch_the_compiled_reader_refuses_fails_with_kafkas_words() -> None:
    batch = build_batch([(b"a", b"1", (), 1), (b"b", b"2", (), 2)])
    more = bytearray(batch)
    struct.pack_into(">i", more, 57, 3)  # claims three records
    with pytest.raises(InvalidRecord, match="premature EOF"):
        read(bytes(more), compiled=True)
    fewer = bytearray(batch)
    struct.pack_into(">i", fewer, 57, 1)
    with pytest.raises(InvalidRecord, match="records still remaining"):
        read(bytes(fewer), compiled=True)


def test_a_header_name_that_is_not_utf8_is_read_as_before() -> None:
    batch = bytearray(build_batch([(b"k", b"v", (("\u00e9", b"x"),), 1)]))
    index = batch.index("\u00e9".encode())
    batch[index:index + 2] = b"\xff\xfe"  # not UTF-8: aiokafka's reader refuses, record_batch replaces
    records_read, taken, _ = read(bytes(batch), compiled=True)
    assert taken == 1 and records_read[0].headers == (("\ufffd\ufffd", b"x"),)


def test_a_stream_takes_a_batch_in_parts_with_the_compiled_reader() -> None:
    batch = bytes(build_batch([(None, b"v%d" % i, (), 1) for i in range(10)], base_offset=100))
    stream = record_reader.RecordStream("t", 0, [batch, 115], 102, 2**62)
    parts = [[r.offset for r in stream.take(3)] for _ in range(4)]
    assert parts == [[102, 103, 104], [105, 106, 107], [108, 109], []]
    assert stream._compiled  # it never fell back to the pure-Python decoder
    assert (stream.exhausted, stream.next_offset) == (True, 115)


@settings(max_examples=80, deadline=None)
@given(st.lists(records, min_size=1, max_size=3), st.sampled_from(list(Compression)), st.booleans(),
       st.integers(min_value=0, max_value=30), st.integers(min_value=1, max_value=70),
       st.integers(min_value=1, max_value=9))
def test_a_stream_taken_in_parts_reads_what_pure_python_reads(batches, codec, append_time, skip, cut, most) -> None:
    # Batches of a partition one after another, a skipped batch (a marker) between them.
    items: list = []
    expected = []
    base = 0
    for rows in batches:
        batch = bytes(build_batch(rows, base_offset=base, compression=codec,
                                  log_append_time=2**41 if append_time else None))
        items += [batch, base + len(rows) + 1]
        expected += [(r.offset, r.timestamp, r.key, r.value, r.headers) for r in read(batch, compiled=False)[0]]
        base += len(rows) + 1
    low, high = skip, skip + cut
    record_reader.load_compiled_reader()
    stream = record_reader.RecordStream("t", 3, items, low, high)
    taken = []
    while part := stream.take(most):
        assert len(part) <= most
        taken += part
    assert [(r.offset, r.timestamp, r.key, r.value, r.headers) for r in taken] == [
        e for e in expected if low <= e[0] < high]
    assert stream._compiled or not taken
