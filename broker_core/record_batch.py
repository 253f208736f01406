"""Kafka's record batch, magic 2: the unit producers send, the log stores and consumers fetch.

The layout is apache/kafka's ``DefaultRecordBatch`` (61-byte header, then the records)::

    base offset int64 | batch length int32 | partition leader epoch int32 | magic int8 |
    CRC-32C uint32 | attributes int16 | last offset delta int32 | base timestamp int64 |
    max timestamp int64 | producer id int64 | producer epoch int16 | base sequence int32 |
    record count int32 | records...

The CRC covers everything from the attributes to the end, so the broker may rewrite the
base offset and the partition leader epoch in place without recomputing it. Attributes:
bits 0-2 compression, bit 3 timestamp type (LogAppendTime), bit 4 transactional, bit 5
control, bit 6 delete horizon (KIP-534: the base timestamp is then the compacted
tombstones' delete horizon). Each record (``DefaultRecord``) is its length, attributes,
timestamp delta, offset delta, key, value and headers, in zigzag varints; records of a
compressed batch are compressed together after the record count.

Records are decoded lazily, one at a time, and a compressed batch is decompressed only
when its records are asked for.
"""

from __future__ import annotations

import struct
from enum import IntEnum
from typing import Any, Iterable, Iterator, NamedTuple, Sequence

import crc32c as _crc32c

from .batch_compression import DecompressionBudget, compress, decompress
from .errors import CorruptRecord, InvalidRecord

HEADER = struct.Struct(">qiibIhiqqqhii")
#: Kafka's RECORD_BATCH_OVERHEAD: the header before the first record.
RECORD_BATCH_OVERHEAD = HEADER.size
#: Kafka's LOG_OVERHEAD: base offset and length, the fields the batch length does not count.
LOG_OVERHEAD = 12
PARTITION_LEADER_EPOCH_OFFSET = 12
MAGIC_OFFSET = 16
CRC_OFFSET = 17
ATTRIBUTES_OFFSET = 21
LAST_OFFSET_DELTA_OFFSET = 23
BASE_TIMESTAMP_OFFSET = 27
MAX_TIMESTAMP_OFFSET = 35
RECORD_COUNT_OFFSET = 57
MAGIC = 2

COMPRESSION_MASK = 0x07
TIMESTAMP_TYPE_MASK = 0x08
TRANSACTIONAL_MASK = 0x10
CONTROL_MASK = 0x20
DELETE_HORIZON_MASK = 0x40

NO_TIMESTAMP = -1
NO_PRODUCER_ID = -1
NO_PRODUCER_EPOCH = -1
NO_SEQUENCE = -1
NO_PARTITION_LEADER_EPOCH = -1
_MAX_SEQUENCE = 2**31 - 1

_INT64 = struct.Struct(">q")
_INT32 = struct.Struct(">i")
_INT16 = struct.Struct(">h")
_UINT32 = struct.Struct(">I")
_CONTROL_KEY = struct.Struct(">hh")
_END_TXN_VALUE = struct.Struct(">hi")

Headers = tuple[tuple[str, bytes | None], ...]


class Compression(IntEnum):
    """The compression codec in bits 0-2 of a batch's attributes (Kafka's CompressionType ids)."""

    NONE = 0
    GZIP = 1
    SNAPPY = 2
    LZ4 = 3
    ZSTD = 4


class ControlType(IntEnum):
    """A control record's type, from its key (Kafka's ControlRecordType)."""

    ABORT = 0
    COMMIT = 1


class Record(NamedTuple):
    """One record decoded from a batch, with its absolute offset and timestamp."""

    offset: int
    timestamp: int
    key: bytes | None
    value: bytes | None
    headers: Headers = ()


class EndTransactionMarker(NamedTuple):
    """The one record of a transaction marker batch: COMMIT or ABORT and the coordinator's epoch."""

    control_type: ControlType
    coordinator_epoch: int

    def key(self) -> bytes:
        """The control record's key: version 0 and the type, two int16s."""
        return _CONTROL_KEY.pack(0, self.control_type)

    def value(self) -> bytes:
        """The control record's value: version 0 (int16) and the coordinator epoch (int32)."""
        return _END_TXN_VALUE.pack(0, self.coordinator_epoch)

    @classmethod
    def from_record(cls, record: Record) -> EndTransactionMarker:
        """Read a marker from a control batch's record, as Kafka's EndTransactionMarker.deserialize."""
        key, value = record.key, record.value
        if key is None or len(key) < 4:
            raise InvalidRecord("Invalid control record: its key is shorter than version and type (4 bytes)")
        version, control_type = _CONTROL_KEY.unpack_from(key)
        if version < 0:
            raise InvalidRecord(f"Invalid version found for control record: {version}. May indicate data corruption")
        if control_type not in (ControlType.ABORT, ControlType.COMMIT):
            raise InvalidRecord(f"Invalid control record type for end transaction marker: {control_type}")
        if value is None or len(value) < _END_TXN_VALUE.size:
            raise InvalidRecord("Invalid value size found for end transaction marker. Must have at least "
                                f"{_END_TXN_VALUE.size} bytes, but found only {len(value or b'')}")
        version, epoch = _END_TXN_VALUE.unpack_from(value)
        if version < 0:
            raise InvalidRecord(f"Invalid version found for end transaction marker: {version}. "
                                "May indicate data corruption")
        return cls(ControlType(control_type), epoch)


class BatchHeader(NamedTuple):
    """The 61-byte header of a v2 record batch, field by field."""

    base_offset: int
    batch_length: int
    partition_leader_epoch: int
    magic: int
    crc: int
    attributes: int
    last_offset_delta: int
    base_timestamp: int
    max_timestamp: int
    producer_id: int
    producer_epoch: int
    base_sequence: int
    record_count: int

    @property
    def size_in_bytes(self) -> int:
        """The whole batch's size, header included (what a segment's size counts)."""
        return LOG_OVERHEAD + self.batch_length

    @property
    def last_offset(self) -> int:
        """The offset of the batch's last record (kept by compaction even if that record goes)."""
        return self.base_offset + self.last_offset_delta

    @property
    def compression(self) -> Compression:
        """The codec the records are compressed with."""
        return Compression(self.attributes & COMPRESSION_MASK)

    @property
    def log_append_time(self) -> bool:
        """True when the broker's append time (the max timestamp) is every record's timestamp."""
        return bool(self.attributes & TIMESTAMP_TYPE_MASK)

    @property
    def is_transactional(self) -> bool:
        """True for a batch written inside a transaction."""
        return bool(self.attributes & TRANSACTIONAL_MASK)

    @property
    def is_control(self) -> bool:
        """True for a control batch (a transaction's COMMIT or ABORT marker)."""
        return bool(self.attributes & CONTROL_MASK)

    @property
    def has_delete_horizon(self) -> bool:
        """True when the base timestamp holds the delete horizon set by the log cleaner (KIP-534)."""
        return bool(self.attributes & DELETE_HORIZON_MASK)

    @property
    def last_sequence(self) -> int:
        """The sequence of the batch's last record (sequences wrap at 2**31 - 1), as Kafka's lastSequence."""
        if self.base_sequence == NO_SEQUENCE:
            return NO_SEQUENCE
        return (self.base_sequence + self.last_offset_delta) % (_MAX_SEQUENCE + 1)


def read_header(data: bytes | bytearray | memoryview) -> BatchHeader:
    """The header of the batch at the start of ``data``.

    Raises CorruptRecord when fewer than 61 bytes are there or the length field claims
    fewer, and InvalidRecord for a magic other than 2.
    """
    if len(data) < RECORD_BATCH_OVERHEAD:
        raise CorruptRecord(f"Record batch is corrupt (the size {len(data)} is smaller than the minimum "
                            f"allowed overhead {RECORD_BATCH_OVERHEAD})")
    header = BatchHeader._make(HEADER.unpack_from(data))
    if header.magic != MAGIC:
        raise InvalidRecord(f"Record batch has magic {header.magic}; kplay reads magic 2 batches only")
    if header.size_in_bytes < RECORD_BATCH_OVERHEAD:
        raise CorruptRecord(f"Record batch is corrupt (the size {header.size_in_bytes} is smaller than the "
                            f"minimum allowed overhead {RECORD_BATCH_OVERHEAD})")
    return header


def compute_crc(batch: bytes | bytearray | memoryview) -> int:
    """The CRC-32C of a batch: from its attributes to its end."""
    return _crc32c.crc32c(memoryview(batch)[ATTRIBUTES_OFFSET:])


def verify_crc(batch: bytes | bytearray | memoryview) -> None:
    """Raise CorruptRecord (with Kafka's words) when the stored CRC does not match the bytes."""
    stored = _UINT32.unpack_from(batch, CRC_OFFSET)[0]
    computed = compute_crc(batch)
    if stored != computed:
        raise CorruptRecord(f"Record is corrupt (stored crc = {stored}, computed crc = {computed})")


#: From byte 8: the batch length, the partition leader epoch, the magic and the CRC.
_LENGTH_TO_CRC = struct.Struct(">iibI")


def is_intact(data: bytes | bytearray | memoryview) -> bool:
    """Whether ``data`` is exactly one whole v2 batch whose CRC-32C matches its bytes: what
    ``RecordBatch(data)`` and ``verify_crc`` find, in one step (every stored batch read is checked)."""
    if len(data) < RECORD_BATCH_OVERHEAD:
        return False
    length, _, magic, crc = _LENGTH_TO_CRC.unpack_from(data, 8)
    return (magic == MAGIC and length + LOG_OVERHEAD == len(data)
            and crc == _crc32c.crc32c(memoryview(data)[ATTRIBUTES_OFFSET:]))


def split_batches(data: bytes | bytearray | memoryview) -> Iterator[memoryview]:
    """Each batch of a concatenation of batches (a Fetch response's or a segment's bytes).

    Raises CorruptRecord for a truncated batch.
    """
    view = memoryview(data)
    position = 0
    end = len(view)
    while position < end:
        if end - position < LOG_OVERHEAD:
            raise CorruptRecord(f"Record batch is truncated: {end - position} bytes left, fewer than its "
                                f"{LOG_OVERHEAD}-byte offset and length")
        size = LOG_OVERHEAD + _INT32.unpack_from(view, position + 8)[0]
        if size < RECORD_BATCH_OVERHEAD or position + size > end:
            raise CorruptRecord(f"Record batch is truncated: its length field says {size - LOG_OVERHEAD} bytes, "
                                f"{end - position - LOG_OVERHEAD} are there")
        yield view[position:position + size]
        position += size


def set_base_offset(batch: bytearray | memoryview, base_offset: int) -> None:
    """Give a batch its offsets (the broker's offset assignment); outside the CRC, so no recompute."""
    _INT64.pack_into(batch, 0, base_offset)


def set_partition_leader_epoch(batch: bytearray | memoryview, epoch: int) -> None:
    """Stamp the leader epoch that appended the batch; outside the CRC, so no recompute."""
    _INT32.pack_into(batch, PARTITION_LEADER_EPOCH_OFFSET, epoch)


def set_max_timestamp(batch: bytearray | memoryview, max_timestamp: int, *, log_append_time: bool) -> None:
    """Set the timestamp type and max timestamp and recompute the CRC, as Kafka's setMaxTimestamp.

    With ``log_append_time`` the max timestamp is every record's timestamp (the broker's clock).
    Nothing is rewritten when neither changes.
    """
    attributes = _INT16.unpack_from(batch, ATTRIBUTES_OFFSET)[0]
    wanted = attributes | TIMESTAMP_TYPE_MASK if log_append_time else attributes & ~TIMESTAMP_TYPE_MASK
    if wanted == attributes and _INT64.unpack_from(batch, MAX_TIMESTAMP_OFFSET)[0] == max_timestamp:
        return
    _INT16.pack_into(batch, ATTRIBUTES_OFFSET, wanted)
    _INT64.pack_into(batch, MAX_TIMESTAMP_OFFSET, max_timestamp)
    _UINT32.pack_into(batch, CRC_OFFSET, compute_crc(batch))


# --- varints (zigzag, as Kafka's ByteUtils.writeVarint / writeVarlong) ---

def _zigzag_varint(value: int) -> bytes:
    value = (value << 1) ^ (value >> 63)
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


#: Every one- and two-byte varint (values -8192..8191: the usual lengths and deltas), ready made.
_SHORT_VARINTS = [_zigzag_varint(n) for n in range(-8192, 8192)]


def _varint(value: int) -> bytes:
    if -8192 <= value < 8192:
        return _SHORT_VARINTS[value + 8192]
    return _zigzag_varint(value)


def _read_unsigned_varint(data: bytes | memoryview, position: int) -> tuple[int, int]:
    """The varint at ``position``, not yet zigzag-decoded, and the position after it."""
    result = 0
    shift = 0
    while True:
        byte = data[position]
        position += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, position
        shift += 7
        if shift > 63:
            raise InvalidRecord("Invalid record: a varint is longer than 10 bytes")


def read_varint(data: bytes | memoryview, position: int) -> tuple[int, int]:
    """The zigzag varint at ``position`` and the position after it."""
    byte = data[position]
    if byte < 0x80:
        return (byte >> 1) ^ -(byte & 1), position + 1
    result = byte & 0x7F
    shift = 7
    while True:
        position += 1
        byte = data[position]
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return (result >> 1) ^ -(result & 1), position + 1
        shift += 7
        if shift > 63:
            raise InvalidRecord("Invalid record: a varint is longer than 10 bytes")


def _encode_record(offset_delta: int, timestamp_delta: int, key: bytes | None, value: bytes | None,
                   headers: Sequence[tuple[str, bytes | None]], varint=_varint) -> bytes:
    # The fetch and produce paths build one of these per record: parts joined once, and
    # one-byte varints (small deltas and lengths) from a table.
    body = b"".join((
        b"\x00", varint(timestamp_delta), varint(offset_delta),
        b"\x01" if key is None else varint(len(key)), key or b"",
        b"\x01" if value is None else varint(len(value)), value or b"",
        _encode_headers(headers) if headers else b"\x00"))
    return varint(len(body)) + body


def _encode_headers(headers: Sequence[tuple[str, bytes | None]]) -> bytes:
    parts = [_varint(len(headers))]
    for name, header_value in headers:
        encoded = name.encode()
        parts.append(_varint(len(encoded)))
        parts.append(encoded)
        if header_value is None:
            parts.append(b"\x01")
        else:
            parts.append(_varint(len(header_value)))
            parts.append(header_value)
    return b"".join(parts)


#: aiokafka's compiled batch builder; False until ``load_compiled_builder`` looked for it, None if missing.
_compiled_builder: Any = False
#: What the compiled builder is told a batch may hold: batches here are bounded by max.message.bytes.
_NO_SIZE_LIMIT = 2**31 - 1
_NO_HEADERS: list[tuple[str, bytes | None]] = []


def compiled_batches() -> Any:
    """aiokafka's compiled (Cython) v2 batch module, imported on first use (about 35 ms, once),
    or None where it is missing (a platform without aiokafka's wheel): then kplay's pure-Python
    reader and builder do the work alone."""
    try:
        from aiokafka.record._crecords import default_records
    except ImportError:  # pragma: no cover - aiokafka's wheels carry the extension
        return None
    return default_records


def load_compiled_builder() -> Any:
    """Load aiokafka's compiled batch builder if not yet done, and return it (None where it is
    missing). A Producer does this when it is made; batches built before any are built in pure
    Python, byte for byte the same (tests/test_record_batch_builders.py), so opening the
    playground never pays for the import."""
    global _compiled_builder
    if _compiled_builder is False:
        module = compiled_batches()
        _compiled_builder = module.DefaultRecordBatchBuilder if module is not None else None
    return _compiled_builder


def build_batch(records: Sequence[tuple[bytes | None, bytes | None, Sequence[tuple[str, bytes | None]], int]],
                *, base_offset: int = 0, offset_deltas: Sequence[int] | None = None,
                compression: int = Compression.NONE, compression_level: int | None = None,
                producer_id: int = NO_PRODUCER_ID, producer_epoch: int = NO_PRODUCER_EPOCH,
                base_sequence: int = NO_SEQUENCE, partition_leader_epoch: int = NO_PARTITION_LEADER_EPOCH,
                is_transactional: bool = False, is_control: bool = False,
                log_append_time: int | None = None, delete_horizon: int | None = None,
                last_offset_delta: int | None = None) -> bytearray:
    """A v2 batch of ``records``, each a ``(key, value, headers, timestamp)`` tuple
    (a ProducerRecord with its timestamp set), with a valid CRC.

    Offsets are ``base_offset`` plus ``offset_deltas`` (0, 1, 2, ... by default; a compacted
    batch keeps gaps). ``log_append_time`` marks the batch LogAppendTime with that time as
    its max timestamp. ``last_offset_delta`` may name a later last offset than the last
    record's (a compacted batch keeps its original last offset, for producer state); with no
    records at all the batch is an empty header, as Kafka's cleaner may keep.
    """
    if (_compiled_builder and records and offset_deltas is None and not compression and log_append_time is None
            and not is_control and delete_horizon is None and last_offset_delta is None):
        # The common batch (a producer's records, dense offsets, uncompressed): aiokafka's
        # compiled builder writes the same bytes 3-4x faster (0.16 against 0.5 us a record).
        builder = _compiled_builder(MAGIC, 0, is_transactional, producer_id, producer_epoch, base_sequence,
                                    _NO_SIZE_LIMIT)
        append = builder.append
        for offset, (key, value, headers, timestamp) in enumerate(records):
            # It takes headers as a list only (never changed: one empty list serves all).
            append(offset, timestamp, key, value, list(headers) if headers else _NO_HEADERS)
        built: bytearray = builder.build()
        # Outside the CRC: written after it, as a broker assigns them.
        _INT64.pack_into(built, 0, base_offset)
        _INT32.pack_into(built, PARTITION_LEADER_EPOCH_OFFSET, partition_leader_epoch)
        return built
    if offset_deltas is None:
        offset_deltas = range(len(records))
    if records:
        # Record timestamps are deltas from the base timestamp: the first record's, or the
        # delete horizon when the cleaner set one (as Kafka's MemoryRecordsBuilder).
        first_timestamp = records[0][3] if delete_horizon is None else delete_horizon
        max_timestamp = records[0][3]
        encoded = []
        for (key, value, headers, timestamp), delta in zip(records, offset_deltas):
            if timestamp > max_timestamp:
                max_timestamp = timestamp
            encoded.append(_encode_record(delta, timestamp - first_timestamp, key, value, headers))
        body: bytes = b"".join(encoded)
        last_delta = offset_deltas[len(records) - 1]
    else:
        first_timestamp = max_timestamp = NO_TIMESTAMP
        body = b""
        last_delta = 0
    if last_offset_delta is not None:
        last_delta = last_offset_delta
    attributes = compression & COMPRESSION_MASK
    if compression and body:
        body = compress(compression, body, compression_level)
    elif compression:
        attributes = 0
    if log_append_time is not None:
        attributes |= TIMESTAMP_TYPE_MASK
        max_timestamp = log_append_time
    if is_transactional:
        attributes |= TRANSACTIONAL_MASK
    if is_control:
        attributes |= CONTROL_MASK
    if delete_horizon is not None:
        attributes |= DELETE_HORIZON_MASK
        first_timestamp = delete_horizon
    batch = bytearray(RECORD_BATCH_OVERHEAD + len(body))
    HEADER.pack_into(batch, 0, base_offset, len(batch) - LOG_OVERHEAD, partition_leader_epoch, MAGIC, 0,
                     attributes, last_delta, first_timestamp, max_timestamp, producer_id, producer_epoch,
                     base_sequence, len(records))
    batch[RECORD_BATCH_OVERHEAD:] = body
    _UINT32.pack_into(batch, CRC_OFFSET, compute_crc(batch))
    return batch


def build_control_batch(marker: EndTransactionMarker, *, producer_id: int, producer_epoch: int, timestamp: int,
                        base_offset: int = 0, partition_leader_epoch: int = NO_PARTITION_LEADER_EPOCH) -> bytearray:
    """A transaction marker batch: transactional and control, one record (Kafka's
    MemoryRecords.withEndTransactionMarker)."""
    return build_batch([(marker.key(), marker.value(), (), timestamp)], base_offset=base_offset,
                       producer_id=producer_id, producer_epoch=producer_epoch,
                       partition_leader_epoch=partition_leader_epoch, is_transactional=True, is_control=True)


class RecordBatch:
    """One v2 batch over its bytes: the header is read at once, the records only when asked for."""

    __slots__ = ("data", "header")

    def __init__(self, data: bytes | bytearray | memoryview) -> None:
        self.header = read_header(data)
        if self.header.size_in_bytes != len(data):
            if self.header.size_in_bytes > len(data):
                raise CorruptRecord(f"Record batch is truncated: its length field says {self.header.batch_length} "
                                    f"bytes, {len(data) - LOG_OVERHEAD} are there")
            raise InvalidRecord(f"Record batch has {len(data) - self.header.size_in_bytes} bytes after its end")
        self.data = data

    def verify_crc(self) -> None:
        """Raise CorruptRecord when the batch's CRC does not match its bytes."""
        verify_crc(self.data)

    def records_bytes(self, budget: DecompressionBudget | None = None) -> bytes | memoryview:
        """The records section, decompressed if the batch is compressed (within ``budget``)."""
        section = memoryview(self.data)[RECORD_BATCH_OVERHEAD:]
        codec = self.header.attributes & COMPRESSION_MASK
        if not codec:
            return section
        return decompress(codec, section, budget)

    def records(self, from_offset: int | None = None, budget: DecompressionBudget | None = None) -> Iterator[Record]:
        """The batch's records in order, decoded one at a time; those below ``from_offset`` are
        skipped without decoding their keys, values or headers.

        Raises InvalidRecord for a batch whose records disagree with its header (count,
        lengths, bytes left over), as Kafka's record iterator does.
        """
        header = self.header
        count = header.record_count
        if count < 0:
            raise InvalidRecord(f"Found invalid record count {count} in magic v2 batch")
        if count == 0:
            return
        data = self.records_bytes(budget)
        if isinstance(data, memoryview):
            data = bytes(data)  # bytes slicing and indexing beat memoryview's for small fields
        base_offset = header.base_offset
        base_timestamp = header.base_timestamp
        append_time = header.max_timestamp if header.attributes & TIMESTAMP_TYPE_MASK else None
        # With a delete horizon the base timestamp is the horizon, and the record timestamps
        # are deltas from it too.
        position = 0
        end = len(data)
        new_record = tuple.__new__
        skipped = 0
        if from_offset is not None and count == header.last_offset_delta + 1 and from_offset > base_offset:
            # Offset deltas rise with every record, so a batch with as many records as offsets
            # holds exactly deltas 0..count-1: the records below from_offset are skipped by
            # their lengths alone.
            skipped = min(count, from_offset - base_offset)
            for _ in range(skipped):
                length, position = read_varint(data, position)
                position += length
            if position > end:
                raise InvalidRecord("Incorrect declared batch size, premature EOF reached")
        # The varints are decoded inline (one- and two-byte ones without a call): this loop is
        # every consumer's and the UI's read path.
        try:
            for _ in range(count - skipped):
                b = data[position]
                if b < 0x80:
                    position += 1
                elif data[position + 1] < 0x80:
                    b = (b & 0x7F) | (data[position + 1] << 7)
                    position += 2
                else:
                    b, position = _read_unsigned_varint(data, position)
                length = (b >> 1) ^ -(b & 1)
                record_end = position + length
                if length < 0 or record_end > end:
                    raise InvalidRecord("Incorrect declared batch size, premature EOF reached")
                position += 1  # attributes: unused
                b = data[position]
                if b < 0x80:
                    position += 1
                elif data[position + 1] < 0x80:
                    b = (b & 0x7F) | (data[position + 1] << 7)
                    position += 2
                else:
                    b, position = _read_unsigned_varint(data, position)
                timestamp_delta = (b >> 1) ^ -(b & 1)
                b = data[position]
                if b < 0x80:
                    position += 1
                elif data[position + 1] < 0x80:
                    b = (b & 0x7F) | (data[position + 1] << 7)
                    position += 2
                else:
                    b, position = _read_unsigned_varint(data, position)
                offset_delta = (b >> 1) ^ -(b & 1)
                offset = base_offset + offset_delta
                if from_offset is not None and offset < from_offset:
                    position = record_end
                    continue
                b = data[position]
                if b < 0x80:
                    position += 1
                elif data[position + 1] < 0x80:
                    b = (b & 0x7F) | (data[position + 1] << 7)
                    position += 2
                else:
                    b, position = _read_unsigned_varint(data, position)
                key_length = (b >> 1) ^ -(b & 1)
                if key_length < 0:
                    key = None
                else:
                    key = data[position:position + key_length]
                    position += key_length
                b = data[position]
                if b < 0x80:
                    position += 1
                elif data[position + 1] < 0x80:
                    b = (b & 0x7F) | (data[position + 1] << 7)
                    position += 2
                else:
                    b, position = _read_unsigned_varint(data, position)
                value_length = (b >> 1) ^ -(b & 1)
                if value_length < 0:
                    value = None
                else:
                    value = data[position:position + value_length]
                    position += value_length
                b = data[position]
                if b < 0x80:
                    position += 1
                elif data[position + 1] < 0x80:
                    b = (b & 0x7F) | (data[position + 1] << 7)
                    position += 2
                else:
                    b, position = _read_unsigned_varint(data, position)
                header_count = (b >> 1) ^ -(b & 1)
                headers: Headers = ()
                if header_count:
                    if header_count < 0:
                        raise InvalidRecord(f"Found invalid number of record headers {header_count}")
                    collected = []
                    for _ in range(header_count):
                        name_length, position = read_varint(data, position)
                        if name_length < 0:
                            raise InvalidRecord(f"Invalid negative header key size {name_length}")
                        name = data[position:position + name_length].decode("utf-8", "replace")
                        position += name_length
                        header_length, position = read_varint(data, position)
                        if header_length < 0:
                            header_value = None
                        else:
                            header_value = data[position:position + header_length]
                            position += header_length
                        collected.append((name, header_value))
                    headers = tuple(collected)
                if position != record_end:
                    raise InvalidRecord(f"Invalid record size: expected to read {length} bytes in record payload, "
                                        f"but instead read {length - (record_end - position)}")
                # tuple.__new__ skips the NamedTuple's keyword handling: this runs per record read.
                yield new_record(Record, (offset, append_time if append_time is not None
                                          else base_timestamp + timestamp_delta, key, value, headers))
        except IndexError:
            raise InvalidRecord("Incorrect declared batch size, premature EOF reached") from None
        if position != end:
            raise InvalidRecord("Incorrect declared batch size, records still remaining in file")

    def end_transaction_marker(self) -> EndTransactionMarker:
        """The COMMIT or ABORT marker a control batch carries."""
        if not self.header.is_control:
            raise InvalidRecord("Record batch is not a control batch")
        for record in self.records():
            return EndTransactionMarker.from_record(record)
        raise InvalidRecord("Control batch has no record")


def batches_of(data: bytes | bytearray | memoryview) -> Iterable[RecordBatch]:
    """The batches of a concatenation of batches, headers read, records not yet decoded."""
    return (RecordBatch(view) for view in split_batches(data))


def rebuild_batch(batch: RecordBatch, records: Sequence[Record], *, keep_last_offset: bool) -> bytearray:
    """``batch`` with only ``records`` (some of its own), everything else kept: offsets, producer
    fields, flags, codec, leader epoch and a LogAppendTime (as Kafka's cleaner rewrites a batch).

    ``keep_last_offset`` keeps the batch's last offset even if its last record is gone (the
    cleaner does, for producer state); otherwise the last offset is the last record's (a
    truncation).
    """
    header = batch.header
    base = header.base_offset
    return build_batch(
        [(r.key, r.value, r.headers, r.timestamp) for r in records], base_offset=base,
        offset_deltas=[r.offset - base for r in records], compression=header.attributes & COMPRESSION_MASK,
        producer_id=header.producer_id, producer_epoch=header.producer_epoch, base_sequence=header.base_sequence,
        partition_leader_epoch=header.partition_leader_epoch, is_transactional=header.is_transactional,
        is_control=header.is_control, log_append_time=header.max_timestamp if header.log_append_time else None,
        last_offset_delta=header.last_offset_delta if keep_last_offset or not records else None)
