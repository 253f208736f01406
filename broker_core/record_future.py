"""What ``Producer.send`` returns: one record's acknowledgement, as a view on its batch's.

Kafka's producer resolves one ``ProduceRequestResult`` per batch; each record's
``FutureRecordMetadata`` only knows that result and the record's index in the batch, and
builds the record's ``RecordMetadata`` when asked. ``RecordFuture`` is the same over an
asyncio future per batch: a record costs one small object instead of an asyncio future
(made, resolved and freed: ~4,300 instructions) and a ``RecordMetadata`` nobody may read
(~2,700), a quarter of a record's cost through the Producer at 1000 records per batch.

It is an asyncio future to every caller: awaitable, accepted by ``asyncio.wait``,
``gather``, ``wait_for`` and ``shield`` (``asyncio.isfuture`` is true of it), with
``done``/``result``/``exception``/``add_done_callback``. Cancelling it ends the wait for
the record (a task awaiting it is cancelled at once), not the record: as with Kafka, whose
futures cannot call a record back, it is sent all the same.
"""

from __future__ import annotations

import asyncio
from typing import Any, Callable, Generator

from .records import RecordMetadata

_new_tuple = tuple.__new__
#: What a batch's future resolves to: topic, partition, the batch's first offset, its timestamps.
BatchOutcome = tuple[str, int, int, tuple[int, ...]]


class RecordFuture:
    """One record's acknowledgement: resolves to its ``RecordMetadata`` when its batch's
    ``batch`` future resolves (see the module's docstring); ``index``: its place in the batch."""

    __slots__ = ("_batch", "_index", "_callbacks", "_cancelled")

    def __init__(self, batch: asyncio.Future[BatchOutcome], index: int) -> None:
        self._batch = batch
        self._index = index
        #: The callbacks added through this record: (fn, what the batch calls, context).
        self._callbacks: list[tuple[Callable[..., Any], _Callback, Any]] | None = None
        self._cancelled = False

    # asyncio's Future protocol: the class attribute marks it a future (``asyncio.isfuture``);
    # a task reads it right after ``__await__`` yields and resets it, which a view ignores.
    @property
    def _asyncio_future_blocking(self) -> bool:
        return not self.done()

    @_asyncio_future_blocking.setter
    def _asyncio_future_blocking(self, value: bool) -> None:
        pass

    def __await__(self) -> Generator[Any, None, RecordMetadata]:
        if not self.done():
            yield self
        return self.result()

    __iter__ = __await__

    def get_loop(self) -> asyncio.AbstractEventLoop:
        """The event loop the batch's future belongs to."""
        return self._batch.get_loop()

    def done(self) -> bool:
        """Whether the record was acknowledged or failed, or this wait for it was cancelled."""
        return self._cancelled or self._batch.done()

    def cancelled(self) -> bool:
        """Whether this wait was cancelled (or the batch was: the producer closed without it)."""
        return self._cancelled or self._batch.cancelled()

    def cancel(self, msg: Any = None) -> bool:
        """Stop waiting for the record (a cancelled task awaiting it goes on at once). The record
        itself is sent all the same, as with Kafka, whose futures cannot call a record back."""
        if self.done():
            return False
        self._cancelled = True
        callbacks, self._callbacks = self._callbacks or [], None
        loop = self._batch.get_loop()
        for fn, wrapper, context in callbacks:
            self._batch.remove_done_callback(wrapper)
            loop.call_soon(fn, self, context=context)
        return True

    def result(self) -> RecordMetadata:
        """Where the record landed; raises its batch's error (or InvalidStateError while pending)."""
        if self._cancelled:
            raise asyncio.CancelledError()
        topic, partition, base_offset, timestamps = self._batch.result()
        index = self._index
        return _new_tuple(RecordMetadata, (topic, partition, -1 if base_offset < 0 else base_offset + index,
                                           timestamps[index] if index < len(timestamps) else -1))

    def exception(self) -> BaseException | None:
        """Its batch's error, or None once acknowledged."""
        if self._cancelled:
            raise asyncio.CancelledError()
        return self._batch.exception()

    def add_done_callback(self, fn: Callable[[Any], object], *, context: Any = None) -> None:
        """Call ``fn(self)`` once the record is acknowledged or failed (or this wait cancelled)."""
        if self._cancelled:
            self._batch.get_loop().call_soon(fn, self, context=context)
            return
        wrapper = _Callback(fn, self)
        if self._callbacks is None:
            self._callbacks = []
        self._callbacks.append((fn, wrapper, context))
        self._batch.add_done_callback(wrapper, context=context)

    def remove_done_callback(self, fn: Callable[[Any], object]) -> int:
        """Remove every ``fn`` added through this record; how many were removed."""
        if not self._callbacks:
            return 0
        removed = [entry for entry in self._callbacks if entry[0] == fn]
        self._callbacks = [entry for entry in self._callbacks if entry[0] != fn]
        for _, wrapper, _ in removed:
            self._batch.remove_done_callback(wrapper)
        return len(removed)

    def __repr__(self) -> str:
        state = "pending" if not self.done() else "cancelled" if self.cancelled() else \
            "failed" if self.exception() is not None else f"{self.result()}"
        return f"<RecordFuture {state}>"


class _Callback:
    """``fn(record_future)`` run as the batch's callback (what asyncio passes is the batch's future)."""

    __slots__ = ("_fn", "_record")

    def __init__(self, fn: Callable[[Any], object], record: RecordFuture) -> None:
        self._fn = fn
        self._record = record

    def __call__(self, _batch: asyncio.Future[BatchOutcome]) -> None:
        self._fn(self._record)
