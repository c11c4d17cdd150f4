"""Runtime switches as torch_tensorrt.runtime has them. Each context manager
restores the state it found on exit, also when the block raises, so they nest.

Process-wide (kiln's C++ globals): set_cudagraphs_mode / get_cudagraphs_mode,
set_multi_device_safe_mode. Per Session: enable_cudagraphs (gives a Session
without a graph cache one for the block), enable_pre_allocated_outputs,
enable_output_allocator, weight_streaming.
"""
from __future__ import annotations

from typing import Any, Optional

from . import _kiln
from ._kiln import OutputAllocator
from .graphs import GraphCache
from .session import Session


def set_cudagraphs_mode(mode: bool) -> None:
    """CUDA graphs on or off for every Session (on by default; a Session uses
    graphs only when it has a graph cache)."""
    _kiln.set_cuda_graphs_mode(bool(mode))


def get_cudagraphs_mode() -> bool:
    return _kiln.cuda_graphs_mode()


class _SessionOptionContext:
    """Sets Session options for a block (a new C++ Session; see kiln.Session) and puts them back."""

    def __init__(self, session: Session, **changes: Any) -> None:
        self.session = session
        self._changes = changes
        self._previous: Optional[dict] = None

    def __enter__(self) -> "_SessionOptionContext":
        self._previous = self.session._reconfigure(**self._changes)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._previous is not None:
            self.session._reconfigure(**self._previous)
            self._previous = None


class _CudagraphsContext:
    def __init__(self, session: Optional[Session], capacity: int) -> None:
        self.session = session
        self._capacity = capacity
        self._old_mode = False  # set by __enter__
        self._added: Optional[_SessionOptionContext] = None

    def __enter__(self) -> Optional[Session]:
        self._old_mode = get_cudagraphs_mode()
        set_cudagraphs_mode(True)
        try:
            if self.session is not None and self.session.graph_cache is None:
                self._added = _SessionOptionContext(self.session, graph_cache=GraphCache(self._capacity))
                self._added.__enter__()
        except BaseException:
            set_cudagraphs_mode(self._old_mode)
            raise
        return self.session

    def __exit__(self, *exc: Any) -> None:
        try:
            if self._added is not None:
                self._added.__exit__(*exc)
                self._added = None
        finally:
            set_cudagraphs_mode(self._old_mode)


def enable_cudagraphs(session: Optional[Session] = None, capacity: int = 8) -> _CudagraphsContext:
    """CUDA graphs for the block: the global mode on and, for a Session without a
    graph cache, a ``GraphCache(capacity)`` until the block ends. Yields the session.

    >>> with kiln.runtime.enable_cudagraphs(session) as s:
    ...     out = s.run({"input": x})       # first shape: captured; after: replayed
    """
    return _CudagraphsContext(session, capacity)


class _PreAllocatedOutputsContext(_SessionOptionContext):
    def set_pre_allocated_output(self, enable: bool) -> None:
        self.session._reconfigure(pre_allocated_outputs=bool(enable))


def enable_pre_allocated_outputs(session: Session) -> _PreAllocatedOutputsContext:
    """Pre-allocated outputs for the block: each run returns the same output
    buffers (per input shape), overwritten by the next run; copy what you keep.

    >>> with kiln.runtime.enable_pre_allocated_outputs(session):
    ...     out = session.run({"input": x})
    """
    return _PreAllocatedOutputsContext(session, pre_allocated_outputs=True)


class _OutputAllocatorContext(_SessionOptionContext):
    @property
    def allocator(self) -> OutputAllocator:
        return self._changes["output_allocator"]


def enable_output_allocator(session: Session, allocator: Optional[OutputAllocator] = None) -> _OutputAllocatorContext:
    """Outputs written into an OutputAllocator's buffers for the block (needed
    for data-dependent output shapes such as NonZero's in TensorRT; kiln sizes
    them per run). The buffers are reused by the next run: copy what you keep.
    Cannot be combined with a graph cache (kiln.InvalidArgumentError).

    >>> with kiln.runtime.enable_output_allocator(session) as ctx:
    ...     out = session.run({"input": x})
    ...     ctx.allocator.shapes()
    """
    return _OutputAllocatorContext(session, output_allocator=allocator or OutputAllocator())


class _WeightStreamingContext:
    """``device_budget``: the bytes of weights kept on the device (settable;
    clamped to ``total_device_budget``, the bytes of every streamable weight)."""

    def __init__(self, session: Session) -> None:
        object.__setattr__(self, "session", session)
        object.__setattr__(self, "total_device_budget", session.streamable_weights_bytes())
        object.__setattr__(self, "_previous", None)

    @property
    def device_budget(self) -> int:
        b = self.session.weight_streaming_budget()
        return self.total_device_budget if b < 0 else b

    @device_budget.setter
    def device_budget(self, value: int) -> None:
        value = int(value)
        if value < 0:
            raise ValueError("weight streaming budget cannot be negative")
        self.session.set_weight_streaming_budget(min(value, self.total_device_budget))

    def get_automatic_weight_streaming_budget(self) -> int:
        """kiln has no heuristic of its own: the whole size (every weight resident)."""
        return self.total_device_budget

    def __enter__(self) -> "_WeightStreamingContext":
        object.__setattr__(self, "_previous", self.session.weight_streaming_budget())
        return self

    def __exit__(self, *exc: Any) -> None:
        previous = self._previous
        object.__setattr__(self, "_previous", None)
        if previous is not None and self.session.weight_streaming_budget() != previous:
            self.session.set_weight_streaming_budget(previous)


def weight_streaming(session: Session) -> _WeightStreamingContext:
    """Weight streaming for an engine built with ``weight_streaming=True``:
    weights beyond ``device_budget`` stay in page-locked host memory and are
    copied in per layer. The budget is restored on exit.

    >>> with kiln.runtime.weight_streaming(session) as ws:
    ...     ws.device_budget = ws.total_device_budget // 2
    ...     out = session.run({"input": x})
    """
    return _WeightStreamingContext(session)


class _MultiDeviceSafeModeContext:
    def __init__(self, old_mode: bool) -> None:
        self.old_mode = old_mode

    def __enter__(self) -> "_MultiDeviceSafeModeContext":
        return self

    def __exit__(self, *exc: Any) -> None:
        _kiln.set_multi_device_safe_mode(self.old_mode)


def set_multi_device_safe_mode(mode: bool) -> _MultiDeviceSafeModeContext:
    """Multi-device safe mode, process-wide: a run from a thread whose current
    GPU is another one switches and back (serialized) instead of raising.
    Returns a context manager that restores the previous mode, so it also
    works as ``with``:

    >>> with kiln.runtime.set_multi_device_safe_mode(True):
    ...     out = session.run({"input": x})
    """
    old = _kiln.multi_device_safe_mode()
    _kiln.set_multi_device_safe_mode(bool(mode))
    return _MultiDeviceSafeModeContext(old)


def get_multi_device_safe_mode() -> bool:
    return _kiln.multi_device_safe_mode()
