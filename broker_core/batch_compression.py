"""The codecs of Kafka's record batches: compressing a batch's records, and decompressing
them with a bound on the bytes they may expand to.

Compression follows what Kafka's Java client writes, so any Kafka client reads it: gzip
(level 6, Java's Deflater default), snappy in xerial framing with 32 KB blocks (Java's
SnappyOutputStream), lz4 frames with independent blocks (KafkaLZ4BlockOutputStream),
zstd at level 3.

On the way in, Kafka's broker validates a compressed batch while streaming through it and never holds
its records whole; kplay stores each record, so it must hold them, and bounds what one
produce request may expand to instead: an 8 KB zstd batch of zeros that expands to
900 MB is refused after ``limit`` bytes, not read to its end. Each codec is read as a
stream (zlib's ``max_length``, zstandard's stream reader, lz4's frame decompressor,
snappy's per-block length prefix), so no more than ``limit`` bytes are ever produced.
"""

from __future__ import annotations

import gzip
import io
import struct
import zlib

from broker_core.errors import CorruptRecord, RecordTooLarge

CODEC_GZIP, CODEC_SNAPPY, CODEC_LZ4, CODEC_ZSTD = 1, 2, 3, 4
_CODEC_NAMES = {CODEC_GZIP: "gzip", CODEC_SNAPPY: "snappy", CODEC_LZ4: "lz4", CODEC_ZSTD: "zstd"}
#: What one produce request's compressed batches may expand to, in total. Parsing holds
#: about three times this at the peak (the bytes, their parsed copy, the records).
MAX_DECOMPRESSED_REQUEST_BYTES = 32 * 1024 * 1024
_CHUNK = 1 << 20
_XERIAL_MAGIC = b"\x82SNAPPY\x00"
#: xerial's stream header: magic, then version 1 and minimum compatible version 1.
_XERIAL_HEADER = _XERIAL_MAGIC + struct.pack(">ii", 1, 1)
_XERIAL_BLOCK = 32 * 1024
_BLOCK_LENGTH = struct.Struct(">i")
#: Kafka's default levels (compression.gzip.level -1 is the Deflater default, 6).
DEFAULT_LEVELS = {CODEC_GZIP: 6, CODEC_LZ4: 9, CODEC_ZSTD: 3}


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


def compress(codec: int, data: bytes | bytearray | memoryview, level: int | None = None) -> bytes:
    """``data`` (a batch's records) compressed with ``codec`` (1 gzip, 2 snappy, 3 lz4, 4 zstd)."""
    if level is None or level == -1:
        level = DEFAULT_LEVELS.get(codec)
    if codec == CODEC_GZIP:
        # mtime 0: the same records give the same bytes (and so the same CRC).
        return gzip.compress(bytes(data), compresslevel=level, mtime=0)
    if codec == CODEC_SNAPPY:
        import snappy

        out = bytearray(_XERIAL_HEADER)
        for start in range(0, len(data), _XERIAL_BLOCK):
            block = snappy.compress(bytes(data[start:start + _XERIAL_BLOCK]))
            out += _BLOCK_LENGTH.pack(len(block))
            out += block
        return bytes(out)
    if codec == CODEC_LZ4:
        import lz4.frame

        return lz4.frame.compress(bytes(data), compression_level=level, block_linked=False)
    if codec == CODEC_ZSTD:
        import zstandard

        return zstandard.ZstdCompressor(level=level).compress(bytes(data))
    raise ValueError(f"unknown compression codec {codec}")


def decompress(codec: int, payload: bytes | memoryview, budget: DecompressionBudget | None = None,
               where: str = "the partition") -> bytes:
    """A compressed batch's records, expanded within ``budget`` (a fresh default one if None)."""
    out = bytearray()
    decompress_into(out, codec, payload, budget or DecompressionBudget(), where)
    return bytes(out)


def decompress_into(out: bytearray, codec: int, payload: bytes | memoryview, budget: DecompressionBudget,
                    where: str) -> None:
    """Append the records of a compressed batch to ``out``, read in chunks charged to ``budget``."""
    try:
        for chunk in _chunks(codec, bytes(payload), budget.remaining + 1):
            budget.take(len(chunk), where)
            out += chunk
    except RecordTooLarge:
        raise budget.exceeded(where) from None
    except CorruptRecord:
        raise
    except Exception as error:  # noqa: BLE001 - each codec library has its own error classes
        # Whatever a codec fails with, the bytes were not a valid compressed batch.
        raise CorruptRecord(f"Record batch is corrupt: its {_CODEC_NAMES.get(codec, codec)} payload "
                            f"does not decompress ({error})") from None


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
