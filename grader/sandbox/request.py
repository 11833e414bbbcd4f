"""Requests to a worker: one pickle, with every plain CPU tensor as its storage's raw bytes and its view.

Requests go from the grader to a worker, a direction that may use any
encoding (the worker never sends pickles back). torch's own tensor pickling
goes through storages and ``torch.load`` and costs several times more to
load, in a worker that runs ~80 calls per student.

A student must receive the same kind of object the check built: a
transposed, stepped or expanded tensor arrives as a view with the same
strides and storage offset (so ``t.view(-1)`` fails on a transposed tensor
in the worker exactly as it does for the student at home), views of one
storage still share it, and ``requires_grad`` and ``nn.Parameter`` are kept.
Each storage travels once per request: pickle's memo holds the storage
object, and torch hands back the same Python object for every view of it.
"""

from __future__ import annotations

import copyreg
import functools
import hashlib
import io
import pickle
import sys
from collections.abc import Callable
from typing import Any

import torch

from grader.sandbox.protocol import split_frames


def _reduce_tensor(tensor: torch.Tensor) -> Any:
    """A plain CPU tensor as (storage, dtype, size, stride, offset); anything else as torch pickles it."""
    if not _plain_cpu(tensor):
        return tensor.__reduce_ex__(pickle.HIGHEST_PROTOCOL)  # type: ignore[no-untyped-call]
    plain = tensor
    if plain.is_conj():
        plain = plain.resolve_conj()
    if plain.is_neg():
        plain = plain.resolve_neg()
    return _rebuild_tensor, (
        plain.untyped_storage(),
        plain.dtype,
        tuple(plain.shape),
        plain.stride(),
        plain.storage_offset(),
        tensor.requires_grad,
        type(tensor) is torch.nn.Parameter,
    )


def _reduce_storage(storage: torch.UntypedStorage) -> Any:
    """A CPU storage as its raw bytes (``bytes(storage)`` would read them one int at a time)."""
    if storage.device.type != "cpu":
        return storage.__reduce__()  # type: ignore[no-untyped-call]
    raw = torch.empty(0, dtype=torch.uint8).set_(storage).numpy().tobytes() if storage.nbytes() else b""
    return _rebuild_storage, (raw,)


def _plain_cpu(tensor: torch.Tensor) -> bool:
    return (
        tensor.layout == torch.strided
        and tensor.device.type == "cpu"
        and not tensor.is_quantized
        and not tensor.is_meta
        and not tensor.is_nested
    )


#: By exact type, so the C pickler calls back into Python for tensors and storages only
#: (a ``reducer_override`` would be called for every module and dict too).
#: Subclasses keep their own pickling.
_REDUCERS: dict[type, Callable[[Any], Any]] = {
    torch.Tensor: _reduce_tensor,
    torch.nn.Parameter: _reduce_tensor,
    torch.UntypedStorage: _reduce_storage,
}


def _rebuild_storage(raw: bytes) -> torch.UntypedStorage:
    """A new, writable storage holding a copy of ``raw``."""
    if not raw:
        return torch.UntypedStorage(0)  # type: ignore[no-untyped-call]
    return torch.UntypedStorage.from_buffer(raw, dtype=torch.uint8)


def _rebuild_tensor(
    storage: torch.UntypedStorage,
    dtype: torch.dtype,
    size: tuple[int, ...],
    stride: tuple[int, ...],
    offset: int,
    requires_grad: bool,
    parameter: bool,
) -> torch.Tensor:
    tensor = torch.empty(0, dtype=dtype).set_(storage, offset, size, stride)
    if parameter:
        return torch.nn.Parameter(tensor, requires_grad=requires_grad)
    return tensor.requires_grad_(True) if requires_grad else tensor


def in_sequence(function: Callable[..., Any]) -> Callable[..., list[Any]]:
    """``function`` called once per ``(args, kwargs)`` step, in order, its results in a list.

    A request with ``"sequence": True`` carries its steps as its ``args``; the
    worker runs them with this and encodes the list only after the last call,
    so a result a later call refilled in place is read as it is then. The
    trusted side answers a recorded sequence with the reference the same way.
    """

    def calls(*steps: tuple[tuple[Any, ...], dict[str, Any]]) -> list[Any]:
        return [function(*args, **kwargs) for args, kwargs in steps]

    return calls


@functools.cache
def _dispatch_table() -> dict[type, Callable[[Any], Any]]:
    """copyreg's table (torch registers its dtypes' reducers there, at import) with ours on top; built once."""
    return {**copyreg.dispatch_table, **_REDUCERS}


#: The globals a request names that the worker looks up in a table, not through ``__import__``:
#: in the worker, that is the Python ``_ImportMeter`` (``worker.py``), and a tensor argument's
#: request names three (the two rebuilders and its dtype). Only modules loaded before any
#: student code runs, as they were then: a name found here is the very object ``find_class``
#: returned for it before the student's code ran.
_KNOWN_GLOBALS: dict[tuple[str, str], Any] = {
    (__name__, "_rebuild_tensor"): _rebuild_tensor,
    (__name__, "_rebuild_storage"): _rebuild_storage,
    ("torch", "Size"): torch.Size,
    **{("torch", name): value for name, value in vars(torch).items() if isinstance(value, torch.dtype)},
}
#: The opcode of every global a request pickled with protocol 4 or later names.
_STACK_GLOBAL = pickle.STACK_GLOBAL


class _Loader(pickle.Unpickler):
    """An unpickler that finds the usual globals in ``_KNOWN_GLOBALS``, and any other one as ``pickle.loads`` does."""

    def find_class(self, module: str, name: str) -> Any:
        known = _KNOWN_GLOBALS.get((module, name))
        return known if known is not None else super().find_class(module, name)


def load_request(data: bytes | bytearray) -> Any:
    """A request ``pack_request`` made, in the worker: the same objects ``pickle.loads`` would give.

    A request naming no global (no tensor) goes to ``pickle.loads`` itself,
    which costs less than making an unpickler; finding the opcode's byte in
    a tensor's data only sends that request to the table, which also gives
    the same objects.
    """
    if _STACK_GLOBAL not in data:
        return pickle.loads(data)
    return _Loader(io.BytesIO(data)).load()


#: The name a pickled ``codec.HandleRef`` names its class by: a request without these bytes holds none.
_HANDLE_NAME = b"HandleRef"


def may_hold_handles(data: bytes | bytearray) -> bool:
    """Whether a request ``pack_request`` made may carry a ``codec.HandleRef`` (a module passed back by handle).

    Pickle names the class of every object it rebuilds by its module and
    qualified name: a request whose bytes lack ``HandleRef`` has none, and the
    worker need not walk its arguments to swap one for the module it holds. A
    tensor's data holding those bytes by chance only sends that request
    through the walk, which then finds nothing to swap.
    """
    return _HANDLE_NAME in data


def pack_request(request: dict[str, Any]) -> bytes:
    """A request for a worker (trusted to untrusted: the worker loads it with ``pickle``)."""
    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.dispatch_table = _dispatch_table()
    pickler.dump(request)
    return buffer.getvalue()


#: The most bytes of planned requests the zygote loads in advance (``Preloaded.load``): a batch's plan is
#: some hundreds of kilobytes; a larger one is not loaded, and its workers load each request as it comes.
MAX_PRELOAD_BYTES = 16 * 1024 * 1024
#: The most requests it loads in advance.
MAX_PRELOAD_REQUESTS = 20_000


def plan_digest(frames: bytes) -> str:
    """What identifies a plan's frames (``Preloaded.digest``)."""
    return hashlib.blake2b(frames, digest_size=16).hexdigest()


class PreloadError(ValueError):
    """A plan the zygote was sent cannot be loaded in advance (over a bound, or cut short)."""


class _Loaded(_Loader):
    """``_Loader`` for the zygote: a global from a module not yet imported is refused, never imported.

    The zygote loads only what torch and the standard library already hold:
    a request naming anything else (a class defined in a check, say) is left
    for the worker to load when it comes, as every request was before.
    """

    def find_class(self, module: str, name: str) -> Any:
        if module not in sys.modules and (module, name) not in _KNOWN_GLOBALS:
            raise pickle.UnpicklingError(f"{module} is not imported")
        return super().find_class(module, name)


class Preloaded:
    """A grading session's planned requests, loaded once in the zygote, before it forks the workers that get them.

    A check draws its inputs from its own seed, so every student's worker is
    sent the same planned requests, byte for byte (``grader.plan``), and
    loading them (their tensors and models rebuilt) was a fifth of a worker's
    calls. The zygote loads them once; each worker inherits the objects, and
    ``take`` hands out each at most once per worker: a request that comes
    again, or one not planned, is loaded from its bytes as before. Equal
    bytes load into equal objects, so what a student's function receives
    does not change; an argument it changes in place is its worker's own
    copy (the fork copies each page it writes).

    Only inputs are held, all of them sent to every student's worker that is
    graded on their exercise: nothing of the reference or of its answers.
    """

    __slots__ = ("_longest", "_requests", "digest")

    def __init__(self, requests: dict[bytes, list[Any]], digest: str) -> None:
        self._requests = requests
        #: No longer frame is looked up (nor copied to be): a student's files, a large argument.
        self._longest = max(map(len, requests), default=-1)
        #: What identifies the plan it was loaded from: the same plan sent again is not loaded again.
        self.digest = digest

    def __len__(self) -> int:
        return sum(len(objects) for objects in self._requests.values())

    @classmethod
    def load(cls, frames: bytes, digest: str | None = None) -> Preloaded:
        """The requests of ``frames`` (each as ``protocol.framed`` makes it), loaded; a request the zygote
        cannot load without importing a module is left out. ``PreloadError`` past the bounds.

        ``digest``: ``plan_digest(frames)``, when the caller has it already.
        """
        if len(frames) > MAX_PRELOAD_BYTES:
            raise PreloadError(f"a plan of {len(frames):,} bytes is over the {MAX_PRELOAD_BYTES:,} loaded in advance")
        try:
            payloads = list(split_frames(frames))
        except ValueError:
            raise PreloadError("the plan is cut short") from None
        if len(payloads) > MAX_PRELOAD_REQUESTS:
            raise PreloadError(f"a plan of more than {MAX_PRELOAD_REQUESTS:,} requests is not loaded in advance")
        requests: dict[bytes, list[Any]] = {}
        for data in payloads:
            try:
                loaded = _Loaded(io.BytesIO(data)).load()
            except Exception:  # noqa: BLE001 - left for the worker to load as it comes
                continue
            requests.setdefault(data, []).append(loaded)
        return cls(requests, plan_digest(frames) if digest is None else digest)

    def take(self, frame: bytes | bytearray) -> Any:
        """The request ``frame`` loads into, loaded in advance; ``None`` if none is left for it."""
        if len(frame) > self._longest:
            return None
        objects = self._requests.get(frame if type(frame) is bytes else bytes(frame))
        return objects.pop() if objects else None
