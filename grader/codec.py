"""The pickle-free value codec between a sandboxed worker and the grader.

The worker *encodes* whatever the student's function returned; the trusted
side *decodes* it into plain data it can compare safely:

* tensors travel as dtype + shape + raw bytes and come back as plain
  ``torch.Tensor`` (subclasses and their ``__torch_function__`` are gone);
* ``None``, ``bool``, ``int``, ``float``, ``str``, ``tuple``, ``list``, ``dict``,
  ``torch.Size`` and ``torch.dtype`` travel by value (an ``int`` subclass with
  a lying ``__eq__`` arrives as a plain ``int``);
* an ``nn.Module`` travels as a description (class, constructor attributes,
  children, parameters, buffers) and is rebuilt from ``MODULE_CLASSES``, an
  allowlist of standard ``torch.nn`` classes, with parameter sharing kept.
  A student's subclass of an allowlisted class that changes none of its
  behaviour (``behaviour_change`` says what would) is rebuilt as that base;
* any other module (its own ``forward``, a hook, a plain ``nn.Module``
  subclass) stays in the worker, in a table of *handles*: its description
  travels with its handle, and is rebuilt here with the same structure, but
  its ``forward`` is a ``RemoteForward`` that sends each call back to the
  worker (``grader/proxy.py`` connects it). No student code ever runs here.

Anything else is refused with ``Unsupported``. Decoding never calls
``pickle``, ``torch.load`` or ``eval``, and validates every field, because the
worker may be fully controlled by the student. Only stdlib and torch are
imported here: the zygote imports this module before any student code runs.
"""

from __future__ import annotations

import json
import math
import struct
import weakref
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from grader.sandbox.protocol import MAX_ANSWER_BYTES, MAX_FACTS_BYTES, collector_paused

MAGIC = b"GRC1"
_MIB = 1024 * 1024
#: Ceiling on one encoded message; a bigger answer is refused here, in the worker, which goes on
#: serving: the grader refuses a larger frame too, but only by stopping the worker. A worker's
#: answer frame (``sandbox/protocol.py``) adds its facts to the message.
MAX_MESSAGE_BYTES = MAX_ANSWER_BYTES - MAX_FACTS_BYTES
#: Ceiling on a message's header (the JSON description of the value): parsing JSON
#: costs ~20 bytes of Python objects per byte, so this bounds what decoding allocates.
MAX_HEADER_BYTES = _MIB
MAX_DEPTH = 64
#: Parts a value may have, each weighed by what rebuilding it costs here: a plain node
#: (number, string, list...) counts 1, a tensor, parameter or buffer ``TENSOR_PARTS``, a
#: module (a child included) ``MODULE_PARTS``: 1,000 layers, or 2,000 tensors, at most.
#: A reference to a module or parameter already sent weighs as much as what it names:
#: each is registered again (``add_module``, ``register_parameter``), and every walk of
#: the model (a check's, ``model_cost``'s) meets it again; 25,000 references to one
#: ``nn.Identity`` counted 1 each, and cost the grading process 0.2 s per answer.
MAX_NODES = 40_000
TENSOR_PARTS = 20
MODULE_PARTS = 40
_WEIGHTS = f"a layer counts {MODULE_PARTS}, a tensor {TENSOR_PARTS}"
_MODULE_KINDS = ("module", "remote", "module_ref")
MAX_STRING = 1_000_000
MAX_DIMS = 16

DTYPES: dict[str, torch.dtype] = {
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
    "float32": torch.float32,
    "float64": torch.float64,
    "complex64": torch.complex64,
    "complex128": torch.complex128,
    "uint8": torch.uint8,
    "int8": torch.int8,
    "int16": torch.int16,
    "int32": torch.int32,
    "int64": torch.int64,
    "bool": torch.bool,
}
_DTYPE_NAMES = {dtype: name for name, dtype in DTYPES.items()}


class Unsupported(Exception):
    """A value cannot cross the sandbox boundary (raised while encoding)."""


class DecodeError(Exception):
    """A message from a worker is malformed (the worker lied or broke)."""


class TooLarge(DecodeError):
    """A message is over a bound of this side: ``str()`` says which, in a student's words."""


@dataclass
class Allowance:
    """What decoding may still spend over several messages (the answers of one submission).

    Each message is bounded on its own (``MAX_HEADER_BYTES``, ``MAX_NODES``);
    this bounds their sum, so many answers each just under the bounds cannot
    add up to seconds of the grading process's time.
    """

    header_bytes: int = 4 * _MIB
    nodes: int = 250_000


def _bias(module: nn.Module) -> bool:
    return getattr(module, "bias", None) is not None


def _attr(name: str) -> Callable[[nn.Module], Any]:
    return lambda module: getattr(module, name)


_ACT_INPLACE = {"inplace": _attr("inplace")}
_NORM = {
    "num_features": _attr("num_features"),
    "eps": _attr("eps"),
    "momentum": _attr("momentum"),
    "affine": _attr("affine"),
    "track_running_stats": _attr("track_running_stats"),
}
_REDUCTION = {"reduction": _attr("reduction")}

#: Allowlisted ``torch.nn`` classes and how to read back each constructor argument.
MODULE_CLASSES: dict[str, tuple[type[nn.Module], dict[str, Callable[[nn.Module], Any]]]] = {
    "Sequential": (nn.Sequential, {}),
    "ModuleList": (nn.ModuleList, {}),
    "ModuleDict": (nn.ModuleDict, {}),
    "Linear": (
        nn.Linear,
        {"in_features": _attr("in_features"), "out_features": _attr("out_features"), "bias": _bias},
    ),
    "Bilinear": (
        nn.Bilinear,
        {
            "in1_features": _attr("in1_features"),
            "in2_features": _attr("in2_features"),
            "out_features": _attr("out_features"),
            "bias": _bias,
        },
    ),
    "Identity": (nn.Identity, {}),
    "Flatten": (nn.Flatten, {"start_dim": _attr("start_dim"), "end_dim": _attr("end_dim")}),
    "ReLU": (nn.ReLU, _ACT_INPLACE),
    "ReLU6": (nn.ReLU6, _ACT_INPLACE),
    "SiLU": (nn.SiLU, _ACT_INPLACE),
    "Mish": (nn.Mish, _ACT_INPLACE),
    "LeakyReLU": (
        nn.LeakyReLU,
        {"negative_slope": _attr("negative_slope"), "inplace": _attr("inplace")},
    ),
    "ELU": (nn.ELU, {"alpha": _attr("alpha"), "inplace": _attr("inplace")}),
    "GELU": (nn.GELU, {"approximate": _attr("approximate")}),
    "Sigmoid": (nn.Sigmoid, {}),
    "Tanh": (nn.Tanh, {}),
    "Hardtanh": (nn.Hardtanh, {"min_val": _attr("min_val"), "max_val": _attr("max_val")}),
    "Softplus": (nn.Softplus, {"beta": _attr("beta"), "threshold": _attr("threshold")}),
    "Softmax": (nn.Softmax, {"dim": _attr("dim")}),
    "LogSoftmax": (nn.LogSoftmax, {"dim": _attr("dim")}),
    "Softmin": (nn.Softmin, {"dim": _attr("dim")}),
    "Dropout": (nn.Dropout, {"p": _attr("p"), "inplace": _attr("inplace")}),
    "BatchNorm1d": (nn.BatchNorm1d, _NORM),
    "BatchNorm2d": (nn.BatchNorm2d, _NORM),
    "LayerNorm": (
        nn.LayerNorm,
        {
            "normalized_shape": _attr("normalized_shape"),
            "eps": _attr("eps"),
            "elementwise_affine": _attr("elementwise_affine"),
            "bias": _bias,
        },
    ),
    "Embedding": (
        nn.Embedding,
        {
            "num_embeddings": _attr("num_embeddings"),
            "embedding_dim": _attr("embedding_dim"),
            "padding_idx": _attr("padding_idx"),
        },
    ),
    "Conv1d": (
        nn.Conv1d,
        {
            "in_channels": _attr("in_channels"),
            "out_channels": _attr("out_channels"),
            "kernel_size": _attr("kernel_size"),
            "stride": _attr("stride"),
            "padding": _attr("padding"),
            "dilation": _attr("dilation"),
            "groups": _attr("groups"),
            "bias": _bias,
        },
    ),
    "Conv2d": (
        nn.Conv2d,
        {
            "in_channels": _attr("in_channels"),
            "out_channels": _attr("out_channels"),
            "kernel_size": _attr("kernel_size"),
            "stride": _attr("stride"),
            "padding": _attr("padding"),
            "dilation": _attr("dilation"),
            "groups": _attr("groups"),
            "bias": _bias,
        },
    ),
    "MSELoss": (nn.MSELoss, _REDUCTION),
    "L1Loss": (nn.L1Loss, _REDUCTION),
    "BCELoss": (nn.BCELoss, _REDUCTION),
    "BCEWithLogitsLoss": (nn.BCEWithLogitsLoss, _REDUCTION),
    "CrossEntropyLoss": (
        nn.CrossEntropyLoss,
        {
            "reduction": _attr("reduction"),
            "ignore_index": _attr("ignore_index"),
            "label_smoothing": _attr("label_smoothing"),
        },
    ),
    "NLLLoss": (nn.NLLLoss, {"reduction": _attr("reduction"), "ignore_index": _attr("ignore_index")}),
}
_CONTAINERS = ("Sequential", "ModuleList", "ModuleDict")
_ALLOWED = {cls: name for name, (cls, _) in MODULE_CLASSES.items()}


def type_name(value: object) -> str:
    """``module.Class`` of a value, for messages (read without calling student code)."""
    cls = type(value)
    module = getattr(cls, "__module__", "?")
    return f"{module}.{cls.__qualname__}" if module != "builtins" else cls.__qualname__


# --------------------------------------------------------------------------- a student's module classes

#: Names a student's class may define without changing what its allowlisted base computes.
_BENIGN = frozenset(
    {
        "__init__",
        "extra_repr",
        "__repr__",
        "__str__",
        "__module__",
        "__qualname__",
        "__doc__",
        "__annotations__",
        "__annotate__",
        "__annotate_func__",
        "__annotations_cache__",
        "__firstlineno__",
        "__static_attributes__",
        "__orig_bases__",
        "__parameters__",
        "__classcell__",
        "__type_params__",
        "__slots__",
        "__constants__",
    }
)
#: Per-instance hook tables: a hook changes what calling the module returns.
_HOOK_TABLES = ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks", "_backward_pre_hooks")
_GLOBAL_HOOKS = ("_global_forward_hooks", "_global_forward_pre_hooks", "_global_backward_hooks")
_TABLE_TYPES = (dict, OrderedDict)
_MRO = type.__dict__["__mro__"]
#: An instance's own dictionary, read past any ``__dict__`` a class may define.
_INSTANCE_DICT = vars(nn.Module)["__dict__"]


def allowlisted_base(cls: type) -> type[nn.Module] | None:
    """The first allowlisted ``torch.nn`` class in ``cls``'s MRO (``cls`` itself for a standard layer)."""
    mro: tuple[type, ...] = _MRO.__get__(cls)
    return next((c for c in mro if c in _ALLOWED), None)


_INHERITED: dict[type, frozenset[str]] = {}


def _inherited(base: type, base_mro: tuple[type, ...]) -> frozenset[str]:
    """Every name an allowlisted class and its bases define, computed once per class and worker."""
    names = _INHERITED.get(base)
    if names is None:
        names = _INHERITED[base] = frozenset().union(*(vars(c) for c in base_mro))
    return names


def behaviour_change(module: nn.Module) -> str:
    """Why ``module`` may compute something its allowlisted base would not, in a student's words; "" if nothing.

    Read in the worker, without calling the student's code: class and instance
    dictionaries only. Conservative: anything that *could* change a call
    (a method or attribute of the base redefined, a hook, a metaclass, a
    tensor subclass as a parameter) counts, since such a module is still
    judged correctly, by running it where it lives.
    """
    cls = type(module)
    base = allowlisted_base(cls)
    mro: tuple[type, ...] = _MRO.__get__(cls)
    if any(type(c) is not type for c in mro):
        return "its class has a custom metaclass"
    if base is None:
        if str(getattr(cls, "__module__", "")).startswith("torch."):
            return "a torch.nn layer the grader does not rebuild"
        own_forward = any("forward" in vars(c) for c in mro if c not in (nn.Module, object))
        return "your own nn.Module subclass, with its own forward" if own_forward else "your own nn.Module subclass"
    base_mro: tuple[type, ...] = _MRO.__get__(base)
    inherited = _inherited(base, base_mro)
    state: dict[str, Any] = _INSTANCE_DICT.__get__(module)
    tables = [state.get(name) for name in ("_parameters", "_buffers", "_modules")]
    if any(type(table) not in _TABLE_TYPES for table in tables):
        return "it replaces nn.Module's own tables of parameters, buffers or children"
    tensors_and_children = set().union(*(table for table in tables if table))
    own = [c for c in mro if c not in base_mro]
    for c in own:
        for name in vars(c):
            if name in inherited and name not in _BENIGN:
                return f"it defines its own {name}"
            if name in tensors_and_children or (name in state and name not in _BENIGN):
                return f"its class attribute {name} hides the module's own {name}"
    for name in state:
        if name in inherited:
            return f"its {name} is replaced on the object itself"
    if any(state.get(name) for name in _HOOK_TABLES):
        return "a hook is registered on it"
    if any(getattr(nn.modules.module, name, None) for name in _GLOBAL_HOOKS):
        return "a global module hook is registered"
    for name, param in state["_parameters"].items():
        if param is not None and type(param) is not nn.Parameter:
            return f"its parameter {name} is a {type(param).__qualname__}, not a plain nn.Parameter"
    for name, buf in state["_buffers"].items():
        if buf is not None and type(buf) not in (torch.Tensor, nn.Parameter):
            return f"its buffer {name} is a {type(buf).__qualname__}, not a plain tensor"
    return ""


# --------------------------------------------------------------------------- handles (worker side)

#: The worker's table of modules that changed behaviour and stayed here; a
#: handle is an index into it. Per worker process: a fresh worker has none.
_HANDLES: list[object] = []
_HANDLE_OF: dict[int, int] = {}
MAX_HANDLES = 4096


def _hold(value: object) -> int:
    handle = _HANDLE_OF.get(id(value))
    if handle is None:
        if len(_HANDLES) >= MAX_HANDLES:
            raise Unsupported(f"more than {MAX_HANDLES} models of its own classes were returned")
        handle = len(_HANDLES)
        _HANDLES.append(value)
        _HANDLE_OF[id(value)] = handle
    return handle


def held(handle: int) -> Any:
    """The object a handle stands for, in the worker that made it; ``KeyError`` if there is none."""
    if type(handle) is not int or not 0 <= handle < len(_HANDLES):
        raise KeyError(handle)
    return _HANDLES[handle]


class HandleRef:
    """A remote module passed back as an argument: its handle, and the state the trusted side gives it.

    Pickled into a request as plain data; the worker swaps it for the object
    it holds (``sandbox/worker.py``) after loading ``state`` into it.
    """

    __slots__ = ("handle", "state", "training")

    def __init__(self, handle: int, state: list[tuple[str, torch.Tensor]], training: bool) -> None:
        self.handle = handle
        self.state = state
        self.training = training

    def __getstate__(self) -> tuple[int, list[tuple[str, torch.Tensor]], bool]:
        return self.handle, self.state, self.training

    def __setstate__(self, state: tuple[int, list[tuple[str, torch.Tensor]], bool]) -> None:
        self.handle, self.state, self.training = state


def _nested_forward(handle: int) -> Any:
    """In the worker: the forward of a remote module that came back inside another module."""
    try:
        return held(handle)
    except KeyError:

        def gone(*args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("this model is no longer available in the sandbox")

        return gone


# --------------------------------------------------------------------------- remote modules (trusted side)


class RemoteForward:
    """The ``forward`` of a module whose code stays in the worker: each call is sent there.

    Set as the rebuilt module's instance attribute ``forward``, so ``model(x)``
    and ``model.forward(x)`` both reach it. ``caller`` is connected by the
    proxy; ``owner`` names the worker that holds the object.
    """

    __slots__ = ("_module", "caller", "handle", "label", "own_class", "owner", "why")

    def __init__(
        self, handle: int, owner: int | None, label: str, why: str, module: nn.Module, *, own_class: bool
    ) -> None:
        self.handle = handle
        self.owner = owner
        #: The object's class for messages: the student's ("LogReg"), or the standard one ("nn.Sequential").
        self.label = label
        self.own_class = own_class
        self.why = why
        self._module = weakref.ref(module)
        self.caller: Callable[[RemoteForward, nn.Module, tuple[Any, ...], dict[str, Any]], Any] | None = None

    @property
    def module(self) -> nn.Module | None:
        return self._module()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        module = self._module()
        if self.caller is None or module is None:
            raise RuntimeError(f"{self.label} runs only in its sandbox worker, which is not connected")
        return self.caller(self, module, args, kwargs)

    def __deepcopy__(self, memo: dict[int, Any]) -> RemoteForward:
        # copy.deepcopy(model) registers the new module before copying its dict; not ``or``: an empty
        # container's truth is its len(), which that half-built module cannot answer.
        module = self._module()
        target = memo.get(id(module), module) if module is not None else None
        home = target if target is not None else nn.Module()
        twin = RemoteForward(self.handle, self.owner, self.label, self.why, home, own_class=self.own_class)
        twin.caller = self.caller
        return twin

    def __reduce__(self) -> tuple[Callable[[int], Any], tuple[int]]:
        return _nested_forward, (self.handle,)


class RemoteModule(nn.Module):
    """A student's own module with no allowlisted base, as the trusted side sees it.

    It holds the structure (parameters, buffers, children, plain attributes)
    for structural checks; calling it runs the student's object in the worker.
    """

    def extra_repr(self) -> str:
        remote = remote_forward(self)
        return f"student class {remote.label}" if remote else ""


def remote_forward(module: nn.Module) -> RemoteForward | None:
    """The ``RemoteForward`` of a module rebuilt from a worker's handle, or None for a local one."""
    forward = vars(module).get("forward")
    return forward if isinstance(forward, RemoteForward) else None


def student_class(module: nn.Module) -> str | None:
    """The student's class name a module came back as, if it was not a standard layer."""
    remote = remote_forward(module)
    if remote is not None:
        return remote.label if remote.own_class else None
    name = vars(module).get(_STUDENT_CLASS)
    return name if isinstance(name, str) else None


_STUDENT_CLASS = "_grader_student_class"


def remote_forwards(value: Any, depth: int = 0) -> list[RemoteForward]:
    """Every ``RemoteForward`` in a decoded value (in modules, tuples, lists and dicts)."""
    found: list[RemoteForward] = []
    if depth > MAX_DEPTH or isinstance(value, torch.Tensor):  # tensors, the common case, hold no module
        return found
    if isinstance(value, nn.Module):
        found.extend(f for m in value.modules() if (f := remote_forward(m)) is not None)
    elif isinstance(value, (tuple, list)):
        for item in value:
            found.extend(remote_forwards(item, depth + 1))
    elif isinstance(value, dict):
        for item in value.values():
            found.extend(remote_forwards(item, depth + 1))
    return found


def module_state(module: nn.Module) -> list[tuple[str, torch.Tensor]]:
    """Every parameter and buffer of a trusted-side module by dotted name, shared ones under each name."""
    return [
        *((name, p.detach()) for name, p in module.named_parameters(remove_duplicate=False)),
        *((name, b.detach()) for name, b in module.named_buffers(remove_duplicate=False)),
    ]


def load_state(module: nn.Module, state: list[tuple[str, torch.Tensor]]) -> None:
    """In the worker: copy the trusted side's values into a held module, walking its own tables."""
    with torch.no_grad():
        for name, value in state:
            *path, leaf = name.split(".")
            owner = module
            for part in path:
                owner = owner._modules[part]  # type: ignore[assignment]
            target: torch.Tensor | None = owner._parameters.get(leaf)
            if target is None:
                target = owner._buffers[leaf]
            if target is None or target.shape != value.shape:
                raise ValueError(f"the model's {name} no longer has shape {tuple(value.shape)}")
            target.copy_(value)


# --------------------------------------------------------------------------- raw tensor data


def tensor_bytes(tensor: torch.Tensor) -> tuple[torch.Tensor, bytes]:
    """A strided CPU tensor's values as contiguous raw bytes, with the plain tensor they were read from.

    Conjugate and negative views are resolved first, and only when present.
    """
    plain = tensor.detach()
    if plain.is_conj():
        plain = plain.resolve_conj()
    if plain.is_neg():
        plain = plain.resolve_neg()
    if not plain.is_contiguous():
        plain = plain.contiguous()
    if not plain.numel():
        return plain, b""
    flat = plain.reshape(-1)
    if flat.stride(0) != 1:
        # is_contiguous() ignores the strides of size-1 dimensions, so a (1,) view
        # of a wider tensor (``sort(...).indices[:, 0]`` for a batch of one) is
        # "contiguous" with stride 3, and viewing it as bytes would fail.
        flat = flat.clone(memory_format=torch.contiguous_format)
    return plain, flat.view(torch.uint8).numpy().tobytes()


def tensor_from_bytes(raw: bytes | memoryview, dtype: torch.dtype, shape: list[int] | tuple[int, ...]) -> torch.Tensor:
    """A new, writable tensor holding a copy of ``raw``; the caller has checked that it fits ``shape``."""
    if not len(raw):
        return torch.empty(shape, dtype=dtype)
    return torch.frombuffer(bytearray(raw), dtype=dtype).reshape(shape)


# --------------------------------------------------------------------------- encode


class _Encoder:
    def __init__(self) -> None:
        self.blob = bytearray()
        self.nodes = 0
        self.module_ids: dict[int, int] = {}
        self.param_ids: dict[int, int] = {}
        self.keepalive: list[object] = []

    def spend(self, parts: int) -> None:
        self.nodes += parts
        if self.nodes > MAX_NODES:
            raise Unsupported(f"the value is too large (more than {MAX_NODES} parts: {_WEIGHTS})")

    def encode(self, value: Any, depth: int = 0) -> Any:
        if not isinstance(value, (torch.Tensor, nn.Module)):  # those count their own weight
            self.spend(1)
        if depth > MAX_DEPTH:
            raise Unsupported("the value is nested too deeply (or contains itself)")
        # Exact-type tests first: subclasses are reduced to their base value.
        if value is None:
            return None
        if isinstance(value, bool):
            return bool(value)
        if isinstance(value, torch.Tensor):
            return self.tensor(value)
        if isinstance(value, nn.Module):
            return self.module(value, depth)
        if isinstance(value, int):
            try:
                return {"t": "int", "v": str(int.__index__(value))}
            except ValueError:  # more digits than Python will convert
                raise Unsupported("an integer too large to return") from None
        if isinstance(value, float):
            return {"t": "float", "v": repr(float.__float__(value))}
        if isinstance(value, str):
            text = str.__str__(value)
            if len(text) > MAX_STRING:
                raise Unsupported(f"a string of {len(text)} characters is too long")
            return {"t": "str", "v": text}
        if isinstance(value, torch.Size):
            return {"t": "size", "v": [int(d) for d in value]}
        if isinstance(value, torch.dtype):
            if value not in _DTYPE_NAMES:
                raise Unsupported(f"dtype {value} is not supported")
            return {"t": "dtype", "v": _DTYPE_NAMES[value]}
        if isinstance(value, tuple):
            return {"t": "tuple", "v": [self.encode(v, depth + 1) for v in tuple.__iter__(value)]}
        if isinstance(value, list):
            return {"t": "list", "v": [self.encode(v, depth + 1) for v in list.__iter__(value)]}
        if isinstance(value, dict):
            items = []
            for key, item in dict.items(value):
                if not isinstance(key, (str, int)) or isinstance(key, bool):
                    raise Unsupported(f"a dict key of type {type_name(key)} is not supported")
                items.append([self.encode(key, depth + 1), self.encode(item, depth + 1)])
            return {"t": "dict", "v": items}
        raise Unsupported(f"returned an unsupported type {type_name(value)}")

    def tensor(self, value: torch.Tensor) -> dict[str, Any]:
        self.spend(TENSOR_PARTS)
        plain = _plain_tensor(value, len(self.blob))
        if plain is not None:
            node, raw = plain
            self.blob += raw
            return node
        with torch._C.DisableTorchFunctionSubclass():
            if value.layout != torch.strided:
                raise Unsupported(f"a tensor with layout {value.layout} is not supported")
            if value.is_quantized or value.is_meta or value.device.type != "cpu":
                raise Unsupported("only CPU tensors with real data are supported")
            if value.dtype not in _DTYPE_NAMES:
                raise Unsupported(f"dtype {value.dtype} is not supported")
            plain, raw = tensor_bytes(value)
            shape = [int(d) for d in plain.shape]
            requires_grad = bool(value.requires_grad)
        node = _tensor_node(_DTYPE_NAMES[plain.dtype], shape, len(self.blob), len(raw), requires_grad)
        self.blob += raw
        return node

    def module(self, module: nn.Module, depth: int) -> dict[str, Any]:
        if id(module) in self.module_ids:
            self.spend(MODULE_PARTS)  # as the grader counts it: see MAX_NODES
            return {"t": "module_ref", "id": self.module_ids[id(module)]}
        self.spend(MODULE_PARTS)
        base = allowlisted_base(type(module))
        why = behaviour_change(module)
        self.module_ids[id(module)] = len(self.module_ids)
        self.keepalive.append(module)
        node: dict[str, Any] = {"id": self.module_ids[id(module)]}
        if base is not None:
            node["init"] = {
                key: self.encode(read(module), depth + 1) for key, read in MODULE_CLASSES[_ALLOWED[base]][1].items()
            }
        if why:
            node.update(t="remote", handle=_hold(module), why=why, base=_ALLOWED[base] if base else None)
            node["attrs"] = self.attributes(module, depth)
        else:
            node["t"] = "module"
        node["cls"] = _ALLOWED[base] if base is not None and not why else None
        if type(module) is not base:
            node["as"] = type(module).__qualname__[:200]
        node["params"] = self.parameters(module)
        node["buffers"] = [[bname, self.tensor(buf)] for bname, buf in module._buffers.items() if buf is not None]
        node["children"] = [
            [cname, self.encode(child, depth + 1)] for cname, child in module._modules.items() if child is not None
        ]
        node["training"] = bool(module.training)
        return node

    def parameters(self, module: nn.Module) -> list[list[Any]]:
        params: list[list[Any]] = []
        for pname, param in module._parameters.items():
            if param is None:
                continue
            if id(param) in self.param_ids:
                self.spend(TENSOR_PARTS)
                params.append([pname, {"t": "param_ref", "id": self.param_ids[id(param)]}])
            else:
                self.param_ids[id(param)] = len(self.param_ids)
                self.keepalive.append(param)
                node = self.tensor(param)
                node["grad"] = bool(param.requires_grad)
                params.append([pname, node])
        return params

    def attributes(self, module: nn.Module, depth: int) -> list[list[Any]]:
        """A remote module's plain settings (``self.n_features = 4``), for structural checks."""
        plain = (type(None), bool, int, float, str)
        return [
            [name, self.encode(value, depth + 1)]
            for name, value in list(vars(module).items())[:_MAX_ATTRS]
            if not name.startswith("_") and name != "training" and type(value) in plain
        ]


_MAX_ATTRS = 64


#: Tensor types whose own methods are torch's: no ``__torch_function__`` of a student's runs on them.
_PLAIN_TENSOR_TYPES = (torch.Tensor, nn.Parameter)
#: How ``Tensor.numpy`` reads each dtype's raw values: bfloat16, which numpy lacks, as the int16 of the same bits.
_NUMPY_VIEWS = {dtype: (name, torch.int16 if dtype is torch.bfloat16 else None) for dtype, name in _DTYPE_NAMES.items()}
_NO_VIEW = (None, None)
_STRIDED = torch.strided
_FUNCTION_MODES = torch._C._len_torch_function_stack
_DISPATCH_MODES = torch._C._len_torch_dispatch_stack


def _tensor_node(dtype: str, shape: list[int], offset: int, length: int, grad: bool) -> dict[str, Any]:
    """A tensor's node in the header: its data is ``length`` bytes of the blob from ``offset``."""
    return {"t": "tensor", "dtype": dtype, "shape": shape, "off": offset, "len": length, "grad": grad}


def _plain_tensor(value: torch.Tensor, offset: int) -> tuple[dict[str, Any], bytes] | None:
    """``_Encoder.tensor``'s node and the tensor's data, for the common tensor; None for any other.

    The common tensor: a plain, contiguous CPU one, with no conjugate or
    negative bit, and no torch function or dispatch mode active (nothing of a
    student's can then run, or change what its methods say). Its data in C
    order is then what ``tensor_bytes`` reads, in a quarter of the time;
    anything that fails here is read by the general path.
    """
    if type(value) not in _PLAIN_TENSOR_TYPES or _FUNCTION_MODES() or _DISPATCH_MODES():
        return None
    try:
        name, view = _NUMPY_VIEWS.get(value.dtype, _NO_VIEW)
        if (
            name is None
            or value.layout is not _STRIDED
            or not value.is_cpu
            or value.is_nested
            or value.is_conj()
            or value.is_neg()
            or not value.is_contiguous()
        ):
            return None
        requires_grad = value.requires_grad
        plain = value.detach() if requires_grad else value
        raw = (plain if view is None else plain.view(view)).numpy().tobytes()
        shape = list(value.shape)
    except Exception:  # noqa: BLE001 - an exotic tensor is the general path's to read (or refuse)
        return None
    return _tensor_node(name, shape, offset, len(raw), requires_grad), raw


#: The header's JSON exactly as ``json.dumps(tree, separators=(",", ":"), allow_nan=False)`` writes it,
#: from one encoder made once (``json.dumps`` makes one per call when given options).
_HEADER_JSON = json.JSONEncoder(separators=(",", ":"), allow_nan=False)
_LENGTHS = struct.Struct(">II")
_JSON_STRING = json.encoder.encode_basestring_ascii


def _leaf_header(value: Any) -> tuple[str, bytes] | None:
    """The header text and data of a value that is one node (a plain tensor, number or string), or None.

    The same text ``_HEADER_JSON`` writes for ``_Encoder``'s node, without
    building the node or running the JSON encoder: most answers are one
    tensor or one number. Tested against the general path (``test_codec.py``).
    """
    kind = type(value)
    if kind is torch.Tensor:
        plain = _plain_tensor(value, 0)
        if plain is None:
            return None
        node, raw = plain
        shape = ",".join(map(str, node["shape"]))
        grad = "true" if node["grad"] else "false"
        return (
            f'{{"t":"tensor","dtype":"{node["dtype"]}","shape":[{shape}],"off":0,"len":{node["len"]},"grad":{grad}}}',
            raw,
        )
    if kind is int:
        try:
            return f'{{"t":"int","v":"{int.__repr__(value)}"}}', b""
        except ValueError:  # more digits than Python will convert: the general path says so
            return None
    if kind is float:
        return f'{{"t":"float","v":"{float.__repr__(value)}"}}', b""
    if kind is str and len(value) <= MAX_STRING:
        return f'{{"t":"str","v":{_JSON_STRING(value)}}}', b""
    if value is None:
        return "null", b""
    if kind is bool:
        return ("true" if value else "false"), b""
    return None


def encode(value: Any) -> bytes:
    """Encode a value for the trusted side; raise ``Unsupported`` if it can't travel."""
    leaf = _leaf_header(value)
    if leaf is not None:
        text, blob = leaf
    else:
        encoder = _Encoder()
        text = _HEADER_JSON.encode(encoder.encode(value))
        blob = bytes(encoder.blob)
    header = text.encode()
    if len(header) > MAX_HEADER_BYTES:
        raise Unsupported(f"the value's description is too large to return ({len(header)} bytes)")
    total = len(MAGIC) + 8 + len(header) + len(blob)
    if total > MAX_MESSAGE_BYTES:
        raise Unsupported(f"the value is too large to return ({total} bytes)")
    return b"".join((MAGIC, _LENGTHS.pack(len(header), len(blob)), header, blob))


# --------------------------------------------------------------------------- decode


class _Decoder:
    def __init__(self, blob: memoryview, owner: int | None, allowance: Allowance | None) -> None:
        self.blob = blob
        self.owner = owner
        self.allowance = allowance
        self.nodes = 0
        self.modules: dict[int, nn.Module] = {}
        self.params: dict[int, nn.Parameter] = {}

    def spend(self, parts: int) -> None:
        """Count ``parts`` against this message's bound and the allowance, before building them."""
        self.nodes += parts
        if self.nodes > MAX_NODES:
            raise TooLarge(f"a value of more than {MAX_NODES:,} parts ({_WEIGHTS}), more than one answer may have")
        if self.allowance is not None:
            self.allowance.nodes -= parts
            if self.allowance.nodes < 0:
                raise TooLarge(f"more parts than the answers of one submission may have in all ({_WEIGHTS})")

    def decode(self, node: Any, depth: int = 0) -> Any:
        if depth > MAX_DEPTH:
            raise DecodeError("message too large or too deep")
        kind = node.get("t") if isinstance(node, dict) else None
        self.spend(TENSOR_PARTS if kind == "tensor" else MODULE_PARTS if kind in _MODULE_KINDS else 1)
        if node is None or isinstance(node, bool):
            return node
        if not isinstance(node, dict):
            raise DecodeError(f"unexpected node {type(node).__name__}")
        value = node.get("v")
        if kind == "int":
            return _int(value)
        if kind == "float":
            if not isinstance(value, str) or len(value) > 40:
                raise DecodeError("bad float")
            return float(value)  # float() parses repr text, including nan/inf; never eval
        if kind == "str":
            if not isinstance(value, str):
                raise DecodeError("bad str")
            return value
        if kind in ("tuple", "list"):
            items = [self.decode(v, depth + 1) for v in _list(value)]
            return tuple(items) if kind == "tuple" else items
        if kind == "dict":
            out: dict[Any, Any] = {}
            for pair in _list(value):
                if not isinstance(pair, list) or len(pair) != 2:
                    raise DecodeError("bad dict item")
                key = self.decode(pair[0], depth + 1)
                if not isinstance(key, (str, int)):
                    raise DecodeError("bad dict key")
                out[key] = self.decode(pair[1], depth + 1)
            return out
        if kind == "size":
            dims = [_int(d) for d in _list(value)]
            if any(not 0 <= d < 2**63 for d in dims):
                raise DecodeError("bad size")
            return torch.Size(dims)
        if kind == "dtype":
            if value not in DTYPES:
                raise DecodeError("bad dtype")
            return DTYPES[value]
        if kind == "tensor":
            return self.tensor(node)
        if kind in ("module", "remote"):
            return self.module(node, depth)
        if kind == "module_ref":
            ref = node.get("id")
            if ref not in self.modules:
                raise DecodeError("dangling module reference")
            return self.modules[ref]
        raise DecodeError(f"unknown node kind {kind!r}")

    def tensor(self, node: dict[str, Any]) -> torch.Tensor:
        dtype = DTYPES.get(node.get("dtype"))  # type: ignore[arg-type]
        shape = [_int(d) for d in _list(node.get("shape"))]
        offset, length = _int(node.get("off")), _int(node.get("len"))
        if dtype is None or len(shape) > MAX_DIMS or any(d < 0 for d in shape):
            raise DecodeError("bad tensor header")
        numel = math.prod(shape)
        itemsize = dtype.itemsize
        if numel * itemsize != length or offset < 0 or offset + length > len(self.blob):
            raise DecodeError("tensor data does not match its shape")
        tensor = tensor_from_bytes(self.blob[offset : offset + length], dtype, shape)
        if node.get("grad") is True and (dtype.is_floating_point or dtype.is_complex):
            tensor.requires_grad_(True)
        return tensor

    def module(self, node: dict[str, Any], depth: int) -> nn.Module:
        remote = node.get("t") == "remote"
        name = node.get("base") if remote else node.get("cls")
        shown = node.get("as")
        if shown is not None and (not isinstance(shown, str) or not 0 < len(shown) <= 200):
            raise DecodeError("bad class name")
        if name is None and remote:
            module: nn.Module = RemoteModule()
        elif name in MODULE_CLASSES:
            module = self.construct(name, node, depth)
        else:
            raise DecodeError(f"module class {name!r} is not allowed")
        module_id = node.get("id")
        if not isinstance(module_id, int) or module_id in self.modules:
            raise DecodeError("bad module id")
        self.modules[module_id] = module
        self.fill(module, node, depth)
        if remote:
            handle, why = node.get("handle"), node.get("why")
            if type(handle) is not int or not isinstance(why, str) or len(why) > 300:
                raise DecodeError("bad remote module")
            label = shown or f"nn.{name}"
            vars(module)["forward"] = RemoteForward(handle, self.owner, label, why, module, own_class=bool(shown))
            for attr, value in _pairs(node.get("attrs")):
                self.attribute(module, attr, self.decode(value, depth + 1))
        elif shown is not None:
            vars(module)[_STUDENT_CLASS] = shown
        module.training = bool(node.get("training"))  # not train(): children keep their own flag
        return module

    def construct(self, name: str, node: dict[str, Any], depth: int) -> nn.Module:
        cls, attrs = MODULE_CLASSES[name]
        init_nodes = node.get("init")
        if not isinstance(init_nodes, dict) or set(init_nodes) != set(attrs):
            raise DecodeError(f"bad constructor arguments for {name}")
        init = {key: _plain(self.decode(v, depth + 1)) for key, v in init_nodes.items()}
        return _construct(name, cls, init)

    def fill(self, module: nn.Module, node: dict[str, Any], depth: int) -> None:
        """Parameters, buffers and children: the base's own ones must all be there, with their shapes.

        A student's module may hold more (a parameter or a child its base's
        forward never reads): those are registered too, so counts stay true.
        """
        name = type(module).__name__
        required = {k: v.shape for k, v in module._parameters.items() if v is not None}
        got_params: dict[str, nn.Parameter] = {}
        for pname, pnode in _pairs(node.get("params")):
            if isinstance(pnode, dict) and pnode.get("t") == "param_ref":
                self.spend(TENSOR_PARTS)
                ref = pnode.get("id")
                if ref not in self.params:
                    raise DecodeError("dangling parameter reference")
                got_params[pname] = self.params[ref]
                continue
            self.spend(TENSOR_PARTS)
            data = self.tensor(pnode).detach()
            param = nn.Parameter(data, requires_grad=bool(pnode.get("grad")) and data.is_floating_point())
            self.params[len(self.params)] = param
            got_params[pname] = param
        required_buffers = {k: v.shape for k, v in module._buffers.items() if v is not None}
        got_buffers = {}
        for bname, bnode in _pairs(node.get("buffers")):
            self.spend(TENSOR_PARTS)
            got_buffers[bname] = self.tensor(bnode)
        try:
            _place(name, "parameters", got_params, required, module._parameters, module.register_parameter)
            _place(name, "buffers", got_buffers, required_buffers, module._buffers, module.register_buffer)
            for cname, cnode in _pairs(node.get("children")):
                child = self.decode(cnode, depth + 1)
                if not isinstance(child, nn.Module):
                    raise DecodeError("a child is not a module")
                module.add_module(cname, child)
        except (KeyError, TypeError) as exc:
            raise DecodeError(f"bad name in {name}: {exc}") from None

    def attribute(self, module: nn.Module, name: str, value: Any) -> None:
        if (
            not isinstance(name, str)
            or not name.isidentifier()
            or name.startswith("_")
            or name == "forward"
            or hasattr(type(module), name)
            or name in module._modules
            or name in module._parameters
            or name in module._buffers
            or not isinstance(value, (type(None), bool, int, float, str))
        ):
            raise DecodeError(f"bad attribute {name!r}")
        if name not in vars(module):  # a rebuilt base's own settings (in_features ...) stay as built
            vars(module)[name] = value


def _place(
    owner: str,
    kind: str,
    values: dict[str, Any],
    required: dict[str, torch.Size],
    table: dict[str, Any],
    register: Callable[[str, Any], None],
) -> None:
    """Put a module's own tensors in place (each of the right shape) and register any extra ones."""
    if not set(required) <= set(values):
        raise DecodeError(f"{owner} lacks {kind} {sorted(set(required) - set(values))}")
    for key, value in values.items():
        if key not in required:
            register(key, value)
        elif value.shape != required[key]:
            raise DecodeError(f"{owner}.{key} has shape {tuple(value.shape)}, which does not fit")
        else:
            table[key] = value


#: Modules already built once, by class and constructor arguments: copying one
#: costs 6 us where the constructor on the meta device costs 55 (nn.Linear).
#: Bounded, since the arguments come from the worker.
_TEMPLATES: dict[tuple[str, tuple[tuple[str, str], ...]], nn.Module] = {}
_TEMPLATE_LIMIT = 512
_SHARED_VALUES = (type(None), bool, int, float, str, tuple, torch.Size, torch.dtype)


def _construct(name: str, cls: type[nn.Module], init: dict[str, Any]) -> nn.Module:
    """A fresh ``cls(**init)`` whose parameters and buffers the caller replaces."""
    # repr, not the values: True == 1 and 0.0 == -0.0, but their modules differ.
    key = (name, tuple((k, repr(v)) for k, v in sorted(init.items())))
    template = _TEMPLATES.get(key)
    if template is not None:
        return _copy_module(template)
    # Build on the meta device: a description claiming Linear(10**6, 10**6)
    # must not allocate terabytes here; real data replaces every tensor below.
    try:
        with torch.device("meta"), _SkipInit():
            module = cls(**init) if name not in _CONTAINERS else cls()
    except Exception as exc:  # noqa: BLE001 - any constructor error from worker-chosen values
        raise DecodeError(f"cannot rebuild {name}: {exc}") from None
    if len(_TEMPLATES) < _TEMPLATE_LIMIT and _copyable(module):
        _TEMPLATES[key] = module
        return _copy_module(module)  # the template itself is never handed out
    return module


def _copyable(module: nn.Module) -> bool:
    """Whether ``_copy_module`` makes an independent module: plain attributes, empty hook and child tables."""
    for attr, value in vars(module).items():
        if type(value) in (dict, set, OrderedDict):
            if value and attr not in ("_parameters", "_buffers"):
                return False
        elif not isinstance(value, _SHARED_VALUES):
            return False
    return True


def _copy_module(template: nn.Module) -> nn.Module:
    module = type(template).__new__(type(template))
    state = {
        attr: type(value)(value) if type(value) in (dict, set, OrderedDict) else value
        for attr, value in vars(template).items()
    }
    object.__setattr__(module, "__dict__", state)
    return module


#: In-place initialisers a module constructor may call on its fresh parameters.
_INITIALISERS = frozenset(
    {
        "normal_",
        "uniform_",
        "fill_",
        "zero_",
        "trunc_normal_",
        "kaiming_uniform_",
        "kaiming_normal_",
        "xavier_uniform_",
        "xavier_normal_",
        "orthogonal_",
        "constant_",
        "ones_",
        "zeros_",
    }
)


class _SkipInit(TorchFunctionMode):
    """Skip random initialisation while a module is rebuilt on the meta device.

    Every parameter is replaced by the real data right after, and meta-device
    ``normal_`` (an Embedding's initialiser) imports torch._dynamo: 0.75 s.
    """

    def __torch_function__(
        self, func: Any, types: Any, args: tuple[Any, ...] = (), kwargs: dict[str, Any] | None = None
    ) -> Any:
        kwargs = kwargs or {}
        if getattr(func, "__name__", "") in _INITIALISERS:
            return args[0] if args else next(iter(kwargs.values()), None)
        return func(*args, **kwargs)


def _int(value: Any) -> int:
    if isinstance(value, bool):
        raise DecodeError("bad integer")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and len(value) <= 4300 and value.lstrip("-").isdigit():
        return int(value)
    raise DecodeError("bad integer")


def _list(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise DecodeError("expected a list")
    return value


def _pairs(value: Any) -> list[tuple[str, Any]]:
    pairs = []
    for pair in _list(value):
        if not isinstance(pair, list) or len(pair) != 2 or not isinstance(pair[0], str):
            raise DecodeError("bad name/value pair")
        pairs.append((pair[0], pair[1]))
    return pairs


def _plain(value: Any) -> Any:
    """Constructor arguments may only be plain scalars, strings or tuples of them."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (tuple, torch.Size)):
        return tuple(_plain(v) for v in value)
    raise DecodeError(f"bad constructor argument of type {type(value).__name__}")


def may_hold_remote(message: bytes | memoryview) -> bool:
    """Whether an encoded value may hold a module that stayed in its worker (a false yes is allowed)."""
    view = memoryview(message)
    start = len(MAGIC) + 8
    if len(view) < start:
        return False
    (header_len,) = struct.unpack(">I", view[len(MAGIC) : len(MAGIC) + 4])
    return b'"remote"' in bytes(view[start : start + min(header_len, MAX_HEADER_BYTES)])


def _mb(size: int) -> str:
    return f"{size / _MIB:.3g} MiB" if size >= _MIB else f"{size:,} bytes"


def decode(message: bytes | memoryview, *, owner: int | None = None, allowance: Allowance | None = None) -> Any:
    """Decode a worker's message into plain data; raise ``DecodeError`` if malformed, ``TooLarge`` if over a bound.

    ``owner`` names the worker that sent it: a module that stayed there
    remembers it, so a call is never sent to another worker. ``allowance``,
    if given, is what this and the messages decoded after it may still spend
    in all; this message's share is taken from it.
    """
    view = memoryview(message)
    if len(view) < len(MAGIC) + 8 or bytes(view[: len(MAGIC)]) != MAGIC:
        raise DecodeError("not a codec message")
    header_len, blob_len = struct.unpack(">II", view[len(MAGIC) : len(MAGIC) + 8])
    start = len(MAGIC) + 8
    if start + header_len + blob_len != len(view):
        raise DecodeError("message length mismatch")
    if header_len > MAX_HEADER_BYTES:
        raise TooLarge(
            f"a value whose description is {_mb(header_len)}, more than the {_mb(MAX_HEADER_BYTES)} one answer's may be"
        )
    if allowance is not None:
        allowance.header_bytes -= header_len
        if allowance.header_bytes < 0:
            raise TooLarge("values whose descriptions come to more than the answers of one submission may have in all")
    with collector_paused():
        return _decode_header(view, start, header_len, owner, allowance)


def _decode_header(
    view: memoryview, start: int, header_len: int, owner: int | None, allowance: Allowance | None
) -> Any:
    try:
        tree = json.loads(bytes(view[start : start + header_len]))
    except (ValueError, RecursionError) as exc:
        raise DecodeError(f"bad header: {exc}") from None
    decoder = _Decoder(view[start + header_len :], owner, allowance)
    try:
        return decoder.decode(tree)
    except RecursionError:
        raise DecodeError("message nested too deeply") from None
    except DecodeError:
        raise
    except (ValueError, TypeError, AttributeError, KeyError, IndexError, OverflowError, RuntimeError) as exc:
        # A worker controls every byte: whatever a malformed node makes the
        # decoder trip on, the trusted side sees one error type.
        raise DecodeError(f"malformed value ({type(exc).__name__})") from None
