"""Decompressing a produced record batch with a bound on the bytes it may expand to.

Kafka's broker validates a compressed batch while streaming through it and never holds
its records whole; kplay stores each record, so it must hold them, and bounds what one
produce request may expand to instead: an 8 KB zstd batch of zeros that expands to
900 MB is refused after ``limit`` bytes, not read to its end. Each codec is read as a
stream (zlib's ``max_length``, zstandard's stream reader, lz4's frame decompressor,
snappy's per-block length prefix), so no more than ``limit`` bytes are ever produced.
"""

from __future__ import annotations

import io
import struct
import zlib

from broker_core.errors import CorruptRecord, RecordTooLarge

CODEC_GZIP, CODEC_SNAPPY, CODEC_LZ4, CODEC_ZSTD = 1, 2, 3, 4
#: What one produce request's compressed batches may expand to, in total. Parsing holds
#: about three times this at the peak (the bytes, their parsed copy, the records).
MAX_DECOMPRESSED_REQUEST_BYTES = 32 * 1024 * 1024
_CHUNK = 1 << 20
_XERIAL_MAGIC = b"\x82SNAPPY\x00"


class DecompressionBudget:
    """The decompressed bytes one produce request may still use."""

    def __init__(self, limit: int = MAX_DECOMPRESSED_REQUEST_BYTES) -> None:
        self.limit = limit
        self.remaining = limit

    def take(self, count: int, where: str) -> None:
        """Use ``count`` bytes, or refuse the batch once the request is over its bound."""
        self.remaining -= count
        if self.remaining < 0:
            raise self.exceeded(where)

    def exceeded(self, where: str) -> RecordTooLarge:
        """The error for a batch that expands beyond what is left."""
        return RecordTooLarge(
            f"The record batch to {where} decompresses to more than kplay serve holds per produce request "
            f"({self.limit} bytes); send smaller batches")


def decompress_into(out: bytearray, codec: int, payload: bytes | memoryview, budget: DecompressionBudget,
                    where: str) -> None:
    """Append the records of a compressed batch to ``out``, read in chunks charged to ``budget``."""
    try:
        for chunk in _chunks(codec, bytes(payload), budget.remaining + 1):
            budget.take(len(chunk), where)
            out += chunk
    except RecordTooLarge:
        raise budget.exceeded(where) from None


def _chunks(codec: int, payload: bytes, most: int):
    if codec == CODEC_GZIP:
        yield from _gzip_chunks(payload, most)
    elif codec == CODEC_ZSTD:
        import zstandard

        with zstandard.ZstdDecompressor().stream_reader(io.BytesIO(payload), read_across_frames=True) as reader:
            while chunk := reader.read(min(_CHUNK, most)):
                yield chunk
    elif codec == CODEC_LZ4:
        yield from _lz4_chunks(payload)
    elif codec == CODEC_SNAPPY:
        yield from _snappy_chunks(payload, most)
    else:
        raise CorruptRecord(f"Record batch has an unknown compression type {codec}")


def _gzip_chunks(payload: bytes, most: int):
    data = payload
    while data:
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        while not inflater.eof:
            chunk = inflater.decompress(data, min(_CHUNK, most))
            data = inflater.unconsumed_tail
            if chunk:
                yield chunk
            elif not data:
                raise CorruptRecord("Record batch is corrupt: the gzip stream ends early")
        data = inflater.unused_data  # a further gzip member, as Java's GZIPInputStream reads


def _lz4_chunks(payload: bytes):
    import lz4.frame

    inflater = lz4.frame.LZ4FrameDecompressor()
    chunk = inflater.decompress(payload, max_length=_CHUNK)
    while True:
        if chunk:
            yield chunk
        if inflater.eof:
            return
        if inflater.needs_input:
            raise CorruptRecord("Record batch is corrupt: the lz4 frame ends early")
        chunk = inflater.decompress(b"", max_length=_CHUNK)


def _snappy_chunks(payload: bytes, most: int):
    import snappy

    if not payload.startswith(_XERIAL_MAGIC) or len(payload) <= 16:
        blocks = [payload]
    else:  # xerial framing, as the Java client writes it: [length][block]...
        blocks, cursor = [], 16
        while cursor < len(payload):
            (size,) = struct.unpack_from(">i", payload, cursor)
            blocks.append(payload[cursor + 4:cursor + 4 + size])
            cursor += 4 + size
    expanded = 0
    for block in blocks:
        # A raw snappy block starts with its uncompressed length: refuse before inflating it.
        expanded += _varint(block)
        if expanded >= most:
            raise RecordTooLarge(f"The record batch decompresses to more than {most - 1} bytes")
        yield snappy.decompress(block)


def _varint(block: bytes) -> int:
    value = shift = 0
    for index, byte in enumerate(block[:5]):
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value
        shift += 7
    raise CorruptRecord("Record batch is corrupt: a snappy block has no length")
