"""Kafka's v2 record batch as the core reads and writes it (broker_core.record_batch).

kafka-python's DefaultRecordBatchBuilder and DefaultRecordBatch are an independent
implementation of the same format: batches must agree with it byte for byte (uncompressed)
and read back through it (every codec), and its batches must read back through ours.
"""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from kafka.record.default_records import DefaultRecordBatch, DefaultRecordBatchBuilder

from broker_core.batch_compression import DecompressionBudget
from broker_core.errors import CorruptRecord, InvalidRecord, RecordTooLarge
from broker_core.record_batch import (
    RECORD_BATCH_OVERHEAD,
    Compression,
    ControlType,
    EndTransactionMarker,
    RecordBatch,
    batches_of,
    build_batch,
    build_control_batch,
    set_base_offset,
    set_max_timestamp,
    set_partition_leader_epoch,
    verify_crc,
)

optional_bytes = st.one_of(st.none(), st.binary(max_size=300))
headers = st.lists(st.tuples(st.text(max_size=20), optional_bytes), max_size=3).map(tuple)
records = st.lists(
    st.tuples(optional_bytes, optional_bytes, headers, st.integers(min_value=0, max_value=2**45)),
    min_size=1, max_size=30)
CODECS = [Compression.GZIP, Compression.SNAPPY, Compression.LZ4, Compression.ZSTD]


def kafka_python_batch(rows, *, producer_id=-1, producer_epoch=-1, base_sequence=-1,
                       is_transactional=False, codec=0) -> bytes:
    builder = DefaultRecordBatchBuilder(magic=2, compression_type=codec, is_transactional=is_transactional,
                                        producer_id=producer_id, producer_epoch=producer_epoch,
                                        base_sequence=base_sequence, batch_size=2**31 - 1)
    for offset, (key, value, record_headers, timestamp) in enumerate(rows):
        builder.append(offset, timestamp, key, value, list(record_headers))
    return bytes(builder.build())


def as_read_by_kafka_python(batch: bytes):
    read = DefaultRecordBatch(batch)
    assert read.validate_crc()
    return [(r.offset, r.timestamp, r.key, r.value, tuple(r.headers)) for r in read]


@settings(max_examples=150, deadline=None)
@given(records, st.integers(min_value=-1, max_value=2**40), st.integers(min_value=-1, max_value=2**15 - 1),
       st.integers(min_value=-1, max_value=2**31 - 1), st.booleans())
def test_batches_agree_with_kafka_python_byte_for_byte(rows, producer_id, epoch, sequence, transactional) -> None:
    ours = build_batch(rows, producer_id=producer_id, producer_epoch=epoch, base_sequence=sequence,
                       is_transactional=transactional, partition_leader_epoch=0)  # kafka-python writes epoch 0
    assert bytes(ours) == kafka_python_batch(rows, producer_id=producer_id, producer_epoch=epoch,
                                             base_sequence=sequence, is_transactional=transactional)


@settings(max_examples=150, deadline=None)
@given(records, st.integers(min_value=0, max_value=2**50), st.integers(min_value=-1, max_value=2**31 - 1))
def test_records_round_trip_with_their_offsets_and_timestamps(rows, base_offset, leader_epoch) -> None:
    batch = build_batch(rows)
    set_base_offset(batch, base_offset)
    set_partition_leader_epoch(batch, leader_epoch)
    verify_crc(batch)  # both fields lie outside the CRC
    read = RecordBatch(bytes(batch))
    assert read.header.base_offset == base_offset
    assert read.header.partition_leader_epoch == leader_epoch
    assert read.header.last_offset == base_offset + len(rows) - 1
    assert read.header.record_count == len(rows)
    assert read.header.max_timestamp == max(row[3] for row in rows)
    assert read.header.size_in_bytes == len(batch)
    decoded = list(read.records())
    assert [(r.key, r.value, r.headers, r.timestamp) for r in decoded] == [
        (key, value, tuple((name.encode().decode(), v) for name, v in h), ts) for key, value, h, ts in rows]
    assert [r.offset for r in decoded] == list(range(base_offset, base_offset + len(rows)))


@settings(max_examples=40, deadline=None)
@given(records, st.sampled_from(CODECS))
def test_compressed_batches_are_read_by_kafka_python_and_back(rows, codec) -> None:
    ours = bytes(build_batch(rows, compression=codec))
    assert RecordBatch(ours).header.compression == codec
    expected = [(offset, ts, key, value, tuple(h)) for offset, (key, value, h, ts) in enumerate(rows)]
    assert as_read_by_kafka_python(ours) == expected
    theirs = kafka_python_batch(rows, codec=codec)
    assert [tuple(r) for r in RecordBatch(theirs).records()] == expected


def test_a_batch_with_gaps_keeps_its_offsets_and_last_offset() -> None:
    rows = [(b"a", b"1", (), 10), (b"b", b"2", (), 11)]
    batch = build_batch(rows, base_offset=100, offset_deltas=[3, 7], last_offset_delta=9)
    read = RecordBatch(batch)
    assert [r.offset for r in read.records()] == [103, 107]
    assert read.header.last_offset == 109
    assert [r.offset for r in read.records(from_offset=104)] == [107]
    assert [(r[0], r[2]) for r in as_read_by_kafka_python(bytes(batch))] == [(103, b"a"), (107, b"b")]


def test_reads_from_an_offset_inside_a_batch_skip_the_records_below_it() -> None:
    rows = [(f"k{i}".encode(), f"v{i}".encode(), (("n", b"h"),), 1000 + i) for i in range(10)]
    batch = build_batch(rows, base_offset=50)
    assert [r.value for r in RecordBatch(batch).records(from_offset=57)] == [b"v7", b"v8", b"v9"]
    compressed = build_batch(rows, base_offset=50, compression=Compression.LZ4)
    assert [r.offset for r in RecordBatch(compressed).records(from_offset=58)] == [58, 59]


def test_log_append_time_stamps_every_record_and_keeps_the_crc_valid() -> None:
    batch = build_batch([(b"k", b"v", (), 5), (b"k", b"w", (), 6)])
    set_max_timestamp(batch, 99_000, log_append_time=True)
    verify_crc(batch)
    read = RecordBatch(batch)
    assert read.header.log_append_time
    assert [r.timestamp for r in read.records()] == [99_000, 99_000]
    assert [r[1] for r in as_read_by_kafka_python(bytes(batch))] == [99_000, 99_000]
    built = build_batch([(b"k", b"v", (), 5)], log_append_time=42)
    assert [r.timestamp for r in RecordBatch(built).records()] == [42]


def test_a_changed_byte_inside_the_crc_is_refused_with_kafkas_message() -> None:
    batch = build_batch([(b"key", b"value", (), 1)])
    batch[-1] ^= 0xFF
    with pytest.raises(CorruptRecord, match=r"Record is corrupt \(stored crc = \d+, computed crc = \d+\)"):
        RecordBatch(batch).verify_crc()
    with pytest.raises(CorruptRecord):
        verify_crc(batch)


def test_control_batches_carry_commit_and_abort_markers() -> None:
    for control_type in ControlType:
        marker = EndTransactionMarker(control_type, coordinator_epoch=7)
        batch = build_control_batch(marker, producer_id=4000, producer_epoch=3, timestamp=1234, base_offset=20)
        read = RecordBatch(batch)
        assert read.header.is_control and read.header.is_transactional
        assert (read.header.producer_id, read.header.producer_epoch) == (4000, 3)
        assert read.end_transaction_marker() == marker
        # Kafka's layout, as an independent reader sees it: key = version 0 + type, value = version 0 + epoch.
        kafka_read = DefaultRecordBatch(bytes(batch))
        assert kafka_read.is_control_batch and kafka_read.validate_crc()
        (record,) = list(kafka_read)
        assert record.key == struct.pack(">hh", 0, control_type) and record.value == struct.pack(">hi", 0, 7)
    with pytest.raises(InvalidRecord, match="not a control batch"):
        RecordBatch(build_batch([(b"k", b"v", (), 1)])).end_transaction_marker()


def test_a_delete_horizon_is_the_base_timestamp_and_records_keep_their_own() -> None:
    batch = build_batch([(b"k", None, (), 500), (b"j", b"v", (), 700)], delete_horizon=86_400_500)
    read = RecordBatch(batch)
    assert read.header.has_delete_horizon and read.header.base_timestamp == 86_400_500
    assert [r.timestamp for r in read.records()] == [500, 700]


def test_an_empty_batch_keeps_its_producer_state() -> None:
    batch = build_batch([], base_offset=10, last_offset_delta=4, producer_id=9, producer_epoch=0, base_sequence=20)
    read = RecordBatch(batch)
    assert len(batch) == RECORD_BATCH_OVERHEAD
    assert list(read.records()) == []
    assert (read.header.last_offset, read.header.last_sequence) == (14, 24)


def test_batches_split_from_a_concatenation_and_truncation_is_refused() -> None:
    first = build_batch([(b"a", b"1", (), 1)], base_offset=0)
    second = build_batch([(b"b", b"2", (), 2), (b"c", b"3", (), 3)], base_offset=1)
    joined = bytes(first + second)
    assert [b.header.base_offset for b in batches_of(joined)] == [0, 1]
    assert [r.key for b in batches_of(joined) for r in b.records()] == [b"a", b"b", b"c"]
    with pytest.raises(CorruptRecord, match="truncated"):
        list(batches_of(joined[:-1]))
    with pytest.raises(CorruptRecord, match="truncated"):
        RecordBatch(joined[: len(first) - 1])
    with pytest.raises(CorruptRecord, match="smaller than the minimum"):
        RecordBatch(joined[:40])


def test_records_that_disagree_with_the_header_are_refused() -> None:
    batch = build_batch([(b"a", b"1", (), 1), (b"b", b"2", (), 2)])
    more = bytearray(batch)
    struct.pack_into(">i", more, 57, 3)  # claims three records
    with pytest.raises(InvalidRecord, match="premature EOF"):
        list(RecordBatch(more).records())
    fewer = bytearray(batch)
    struct.pack_into(">i", fewer, 57, 1)
    with pytest.raises(InvalidRecord, match="records still remaining"):
        list(RecordBatch(fewer).records())
    wrong_magic = bytearray(batch)
    wrong_magic[16] = 1
    with pytest.raises(InvalidRecord, match="magic 1"):
        RecordBatch(wrong_magic)


def test_a_compressed_batch_expands_only_within_its_budget() -> None:
    batch = build_batch([(None, bytes(1_000_000), (), 1)], compression=Compression.ZSTD)
    assert len(batch) < 1_000
    with pytest.raises(RecordTooLarge):
        list(RecordBatch(batch).records(budget=DecompressionBudget(100_000)))
    assert len(next(RecordBatch(batch).records()).value) == 1_000_000


@pytest.mark.parametrize("codec", CODECS)
def test_a_payload_that_does_not_decompress_is_a_corrupt_record(codec) -> None:
    batch = build_batch([(b"k", b"v" * 200, (), 1)], compression=codec)
    batch[RECORD_BATCH_OVERHEAD + 20:] = b"\xff" * (len(batch) - RECORD_BATCH_OVERHEAD - 20)
    with pytest.raises((CorruptRecord, InvalidRecord)):
        list(RecordBatch(batch).records())


def test_a_stored_batch_is_intact_only_whole_with_its_magic_and_crc() -> None:
    from broker_core.record_batch import is_intact

    batch = bytes(build_batch([(b"k", b"v" * 50, (), 1), (None, b"w", (("h", b"1"),), 2)]))
    assert is_intact(batch)
    flipped = bytearray(batch)
    flipped[-1] ^= 1
    wrong_magic = bytearray(batch)
    wrong_magic[16] = 1
    longer_claim = bytearray(batch)
    struct.pack_into(">i", longer_claim, 8, len(batch))
    for damaged in (bytes(flipped), bytes(wrong_magic), bytes(longer_claim), batch[:-1], batch + b"\x00",
                    batch[:40]):
        assert not is_intact(damaged)
