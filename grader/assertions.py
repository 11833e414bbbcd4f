"""Assertions for checks: compare a student's value with the expected one and say what differs.

Every helper raises ``CheckFailed`` naming the first property that differs
(type, then shape, dtype, values), with expected vs got, so a message reads
like "apply_softmax(x, dim=-1) for x of shape (4, 7): values differ at index
(2, 5): expected 0.1234, got 0.0871 (rtol=1e-05, atol=1e-06)".

Values that come back from a student are plain data (see ``grader.codec``),
but they are still never asked to compare themselves: exact types are checked
before any ``==``, and tensors are compared by ``torch.isclose`` in this,
the trusted, process.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any, NoReturn

import torch
from torch import nn

from grader import codec, model_cost
from grader.checking import CheckFailed, StudentCodeError, StudentRaised

__all__ = [
    "across_calls_hint",
    "assert_int",
    "assert_layers",
    "assert_tensor_close",
    "assert_tensor_equal",
    "assert_type",
    "copy_weights",
    "describe",
    "describe_layer",
    "explain_known_errors",
    "looks_like",
    "run_module",
    "shape_text",
    "shared_between",
    "unchanged",
    "unchanged_model",
]

_MAX_TEXT = 80
#: Layers a message lists, and the characters of what it says about a value: a student's model may have thousands.
_MAX_LISTED = 12
_MAX_DETAIL = 2000


def shape_text(shape: Sequence[int]) -> str:
    """Write a shape the way Python writes a tuple: ``(3, 4)``, ``(5,)``, ``()``."""
    return str(tuple(int(d) for d in shape))


def describe(value: Any) -> str:
    """A short, safe description of any value a student returned, for messages."""
    if isinstance(value, torch.Tensor):
        return f"a tensor of shape {shape_text(value.shape)} and dtype {value.dtype}"
    if isinstance(value, nn.Module):
        return _describe_module(value)
    if isinstance(value, bool):
        return f"the bool {value}"
    if isinstance(value, (int, float, str, tuple, list, torch.Size, torch.dtype)) or value is None:
        text = repr(value)
        if len(text) > _MAX_TEXT:
            text = text[: _MAX_TEXT - 3] + "..."
        kind = type(value).__name__
        return text if value is None else f"the {kind} {text}"
    return f"a value of type {type(value).__name__}"


def _describe_module(module: nn.Module) -> str:
    """``an nn.Linear``, and the student's own class it came back as, if any, and why it matters."""
    name = codec.student_class(module)
    remote = codec.remote_forward(module)
    if remote is not None and isinstance(module, codec.RemoteModule):
        return f"a {remote.label} ({remote.why})"
    text = f"an nn.{type(module).__name__}"
    if remote is not None:
        return f"{text} ({name}, your subclass of it: {remote.why})" if name else f"{text} ({remote.why})"
    return f"{text} (your class {name})" if name else text


def describe_layer(layer: nn.Module | type[nn.Module]) -> str:
    """``Linear(in_features=3, out_features=1, bias=True)``; a class alone reads ``Softmax(...)``.

    Only the class and its settings, so checks may compare two descriptions: a
    subclass rebuilt as (or standing for) ``nn.Linear`` reads as that
    ``Linear``; a module of the student's own class with no standard base
    reads as its class and why it is run in the sandbox.
    """
    if isinstance(layer, type):
        return f"{layer.__name__}(...)"
    remote = codec.remote_forward(layer)
    if isinstance(layer, codec.RemoteModule) and remote is not None:
        return f"{remote.label} [{remote.why}]"
    return f"{type(layer).__name__}({layer.extra_repr()})"


def _fail(what: str, detail: str, hint: str) -> NoReturn:
    if len(detail) > _MAX_DETAIL:
        detail = detail[:_MAX_DETAIL] + " ..."
    raise CheckFailed(f"{what}: {detail}", hint=hint)


def assert_type(got: Any, expected: type | tuple[type, ...], *, what: str, hint: str = "") -> None:
    """Fail unless ``type(got)`` is exactly ``expected`` (or one of them): subclasses do not count."""
    options = expected if isinstance(expected, tuple) else (expected,)
    if type(got) not in options:
        names = " or ".join(_type_text(t) for t in options)
        if not hint and isinstance(got, nn.Module) and codec.remote_forward(got) is not None:
            hint = (
                f"Return {names} itself (a subclass of it that adds only __init__ or extra_repr counts as one); "
                f"a class of your own with its own forward is not {names}."
            )
        _fail(what, f"expected {names}, got {describe(got)}", hint)


def _type_text(cls: type) -> str:
    if cls is torch.Tensor:
        return "a torch.Tensor"
    if issubclass(cls, nn.Module):
        return f"an nn.{cls.__name__}"
    return f"a {cls.__name__}" if cls.__module__ == "builtins" else f"a {cls.__module__}.{cls.__name__}"


def assert_int(got: Any, expected: int, *, what: str, hint: str = "") -> None:
    """Fail unless ``got`` is a Python ``int`` (not a bool, float or tensor) equal to ``expected``."""
    if type(got) is not int:
        if not hint and isinstance(got, torch.Tensor):
            hint = "Return a Python int, not a tensor: convert with int(...) or .item()."
        elif not hint and isinstance(got, (float, bool)):
            hint = f"Return a Python int, not a {type(got).__name__}: convert with int(...)."
        _fail(what, f"expected the int {expected}, got {describe(got)}", hint)
    if got != expected:
        _fail(what, f"expected {expected}, got {got}", hint)


def assert_tensor_close(
    got: Any,
    expected: torch.Tensor,
    *,
    rtol: float = 1e-5,
    atol: float = 1e-6,
    what: str = "the result",
    hint: str = "",
    check_dtype: bool = True,
) -> None:
    """Fail unless ``got`` is a plain tensor of ``expected``'s shape (and dtype) and close values.

    With ``check_dtype=False`` any floating dtype is accepted when ``expected``
    is floating (a float64 sigmoid is still a sigmoid). Integer and bool
    tensors are compared exactly; a NaN or infinity where a finite value is
    expected always differs.
    """
    if type(got) is not torch.Tensor:
        _fail(what, f"expected a torch.Tensor of shape {shape_text(expected.shape)}, got {describe(got)}", hint)
    if got.shape != expected.shape:
        _fail(what, f"expected shape {shape_text(expected.shape)}, got {shape_text(got.shape)}", hint)
    exact = not (expected.dtype.is_floating_point or expected.dtype.is_complex)
    if check_dtype or exact:
        if got.dtype != expected.dtype:
            _fail(what, f"expected dtype {expected.dtype}, got {got.dtype}", hint)
    elif not (got.dtype.is_floating_point or got.dtype.is_complex):
        _fail(what, f"expected a floating-point tensor like {expected.dtype}, got dtype {got.dtype}", hint)
    g, e = got.detach(), expected.detach()
    if exact:
        bad = g != e
        tolerance = ""
    else:
        wide = torch.complex128 if e.dtype.is_complex or g.dtype.is_complex else torch.float64
        bad = ~torch.isclose(g.to(wide), e.to(wide), rtol=rtol, atol=atol)
        tolerance = f" (rtol={rtol:g}, atol={atol:g})" if rtol or atol else " (compared exactly)"
    count = int(bad.sum())
    if count:
        index = tuple(int(i) for i in bad.nonzero()[0])
        others = f"; {count} of {e.numel()} values differ" if count > 1 else ""
        _fail(
            what,
            f"values differ at index {index}: expected {_number(e[index])}, got {_number(g[index])}{tolerance}{others}",
            hint,
        )


def assert_tensor_equal(got: Any, expected: torch.Tensor, *, what: str = "the result", hint: str = "") -> None:
    """``assert_tensor_close`` with no tolerance and the same dtype: for indices, masks, exact data."""
    assert_tensor_close(got, expected, rtol=0.0, atol=0.0, what=what, hint=hint, check_dtype=True)


def _number(value: torch.Tensor) -> str:
    item = value.item()
    return f"{item:.6g}" if isinstance(item, float) else str(item)


def assert_layers(
    module: Any,
    expected: Sequence[nn.Module | type[nn.Module]],
    *,
    what: str,
    hint: str = "",
) -> None:
    """Fail unless ``module`` is an ``nn.Sequential`` whose layers are exactly ``expected``.

    An expected module must match in class and constructor settings
    (``extra_repr``); an expected class matches any instance of exactly that
    class, for layers where any setting is judged by behaviour instead.
    """
    assert_type(module, nn.Sequential, what=what, hint=hint)
    layers = list(module)  # iteration keeps a layer used twice; .children() would hide it
    if len(layers) == len(expected):
        for index, (layer, want) in enumerate(zip(layers, expected, strict=True)):
            if not _layer_matches(layer, want):
                _fail(what, f"layer {index}: expected {describe_layer(want)}, got {describe_layer(layer)}", hint)
        return
    want_text = _listed([describe_layer(w) for w in expected[: _MAX_LISTED + 1]], len(expected))
    got_text = _listed([describe_layer(layer) for layer in layers[: _MAX_LISTED + 1]], len(layers))
    _fail(what, f"expected {_layers(len(expected))} [{want_text}], got {len(layers)} [{got_text}]", hint)


def _listed(texts: list[str], count: int) -> str:
    """The first ``_MAX_LISTED`` of ``count`` layers' descriptions, and how many more there are."""
    if count <= _MAX_LISTED:
        return ", ".join(texts)
    return ", ".join(texts[:_MAX_LISTED]) + f", ... and {count - _MAX_LISTED:,} more"


def _layer_matches(layer: nn.Module, want: nn.Module | type[nn.Module]) -> bool:
    if isinstance(want, type):
        return type(layer) is want
    return type(layer) is type(want) and describe_layer(layer) == describe_layer(want)


def copy_weights(source: nn.Module, target: nn.Module) -> None:
    """Copy every parameter and buffer of ``source`` into ``target``, in order, so both compute alike.

    Pairs by position rather than by name, so a ``Sequential`` built from an
    ``OrderedDict`` ("fc1", "fc2") still receives the reference's "0", "1".
    Call it only after the structure has been asserted.
    """
    pairs = [
        *zip(source.parameters(), target.parameters(), strict=True),
        *zip(source.buffers(), target.buffers(), strict=True),
    ]
    with torch.no_grad():
        for src, dst in pairs:
            dst.copy_(src)


def run_module(module: nn.Module, x: torch.Tensor, *, what: str, hint: str = "") -> torch.Tensor:
    """Run a module a student built (rebuilt here from standard layers) on ``x``; a crash fails the check.

    The run is bounded (``grader.model_cost``): a model that would cost the grading
    process more than it may is not run, and fails the check with the bound it passed.
    """
    try:
        with torch.no_grad(), warnings.catch_warnings(), model_cost.bounded(module):
            warnings.simplefilter("ignore")  # e.g. nn.Softmax() without dim: judged by behaviour, not warned
            out: torch.Tensor = module(x)
            return out
    except model_cost.TooCostly as exc:
        _fail(what, f"the model was not run on an input of shape {shape_text(x.shape)}: {exc}", hint)
    except StudentCodeError:
        raise  # a model that runs in the sandbox timed out or crashed there: that is the verdict
    except Exception as exc:  # noqa: BLE001 - any error of the student's layers is their failure, reported
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        _fail(what, f"running it on an input of shape {shape_text(x.shape)} raised {type(exc).__name__}: {first}", hint)


def looks_like(got: Any, candidate: Any, *, rtol: float = 1e-5, atol: float = 1e-6) -> bool:
    """Whether ``got`` is (within tolerance) ``candidate``: used to recognise a known mistake for a hint.

    Never raises and never trusts ``got``'s own ``==``.
    """
    try:
        if isinstance(candidate, torch.Tensor):
            return (
                type(got) is torch.Tensor
                and got.shape == candidate.shape
                and bool(
                    torch.isclose(
                        got.detach().to(torch.float64), candidate.detach().to(torch.float64), rtol=rtol, atol=atol
                    ).all()
                )
            )
        if type(got) is not type(candidate):
            return False
        return bool(got == candidate)
    except Exception:  # noqa: BLE001 - a comparison that cannot be made is simply no match
        return False


#: Errors torch raises for one known mistake whatever the function: (text in the message, hint).
KNOWN_ERRORS: tuple[tuple[str, str], ...] = (
    (
        "numpy() on Tensor that requires grad",
        "t.numpy() fails for a tensor that requires grad (an nn.Parameter, a model's weight): "
        "stay in torch (t.shape, t.numel(), torch.sigmoid, ...), or call t.detach() first.",
    ),
    (
        "unsupported ScalarType BFloat16",
        "NumPy has no bfloat16, so t.numpy() fails for it: stay in torch instead of converting to NumPy.",
    ),
    (
        "view size is not compatible with input tensor's size and stride",
        "view() needs a tensor whose memory is laid out in order; a transposed, step-sliced or expanded "
        "tensor is not: use reshape() (or flatten(), or t.numel() to count).",
    ),
    (
        "leaf Variable that requires grad is being used in an in-place operation",
        "Do not modify the tensors you are given (add_, +=, sigmoid_, t_ ...): compute and return a new tensor.",
    ),
    (
        "written-to tensor refers to a single memory location",
        "Do not modify the tensors you are given (add_, +=, mul_ ...): an expanded tensor cannot even be "
        "written to. Compute and return a new tensor.",
    ),
    (
        "expected np.ndarray (got numpy.",
        "NumPy turns a 0-d result into a NumPy scalar, which torch.from_numpy refuses: stay in torch "
        "(a + b, torch.sigmoid(x) ...) instead of converting to NumPy and back.",
    ),
    (
        "arguments don't support automatic differentiation",
        "Do not write into the tensors you are given (out=a, add_, +=): compute and return a new tensor.",
    ),
    (
        "must have the same dtype",
        "Keep the dtype you are given (float64, float16 ...): do not convert x with .float(); "
        "model(x) works for any dtype the model has.",
    ),
)


@contextlib.contextmanager
def explain_known_errors(what: str) -> Iterator[None]:
    """Turn a student's exception that names a known mistake (``KNOWN_ERRORS``) into a failure with its hint.

    Any other exception passes through unchanged, to become an error with the
    check's own hint.
    """
    try:
        yield
    except StudentRaised as exc:
        for text, hint in KNOWN_ERRORS:
            if text in exc.reason:
                _fail(what, exc.reason, hint)
        raise


def unchanged(before: Any, after: Any, *, what: str, hint: str = "") -> None:
    """Fail unless an argument that went to the student (``before``) came back (``after``) as it was.

    Tensors must keep shape, dtype and every value (NaN stays NaN); other
    values are compared by exact type and ``==`` here, in the trusted process.
    """
    if isinstance(before, torch.Tensor):
        if type(after) is not torch.Tensor or after.shape != before.shape or after.dtype != before.dtype:
            _fail(what, f"it was changed from {describe(before)} into {describe(after)}", hint)
        if after.requires_grad != before.requires_grad:
            flag = "requires grad" if before.requires_grad else "does not require grad"
            _fail(what, f"it {flag}, and the function changed that (requires_grad is now {after.requires_grad})", hint)
        b, a = before.detach(), after.detach()
        differ = ~((a == b) | (a.isnan() & b.isnan())) if b.dtype.is_floating_point else a != b
        count = int(differ.sum())
        if count:
            index = tuple(int(i) for i in differ.nonzero()[0])
            _fail(
                what,
                f"the function changed it: at index {index} it was {_number(b[index])}, "
                f"after the call {_number(a[index])} ({count} of {b.numel()} values changed)",
                hint,
            )
        return
    if type(after) is not type(before) or after != before:
        _fail(what, f"the function changed it from {describe(before)} into {describe(after)}", hint)


def _layers(count: int) -> str:
    return f"{count} layer" if count == 1 else f"{count} layers"


def unchanged_model(before: nn.Module, after: Any, *, what: str, hint: str = "") -> None:
    """Fail unless a model that went to the student came back with the same parameters, buffers and flags.

    Its train/eval mode is not compared: the contract lets ``forward_pass`` and
    ``predict_class`` switch it.
    """
    if not isinstance(after, nn.Module):
        _fail(what, f"it was changed from {describe(before)} into {describe(after)}", hint)
    for kind, old, new in (
        ("parameter", dict(before.named_parameters()), dict(after.named_parameters())),
        ("buffer", dict(before.named_buffers()), dict(after.named_buffers())),
    ):
        for name, value in old.items():
            if name not in new:
                _fail(what, f"the function removed its {kind} {name}", hint)
            after = new[name]
            if isinstance(after, torch.Tensor) and after.requires_grad != value.requires_grad:
                state = "trainable" if value.requires_grad else "frozen (requires_grad=False)"
                _fail(f"{what}: {kind} {name}", f"it was {state}, and the function changed that", hint)
            unchanged(
                value.detach(),
                after.detach() if isinstance(after, torch.Tensor) else after,
                what=f"{what}: {kind} {name}",
                hint=hint,
            )
        for name in new.keys() - old.keys():
            _fail(what, f"the function added a {kind} {name}", hint)


#: Evidence that a function's answers depend on its earlier calls (``across_calls_hint``).
HINT_REMEMBERS = (
    "Two calls with inputs of the same shape got the same answer: does your function remember an earlier "
    "result (a cache, a dict, a global)? Compute each answer from the input it is given."
)
HINT_REFILLED = (
    "The first result changed when the function was called again: does it return one tensor (or model) "
    "kept between calls and refilled each time? Return a new one on every call."
)
HINT_SHARED = (
    "Two calls returned the same object (or objects sharing their parameters): build a new one on every "
    "call instead of keeping one from an earlier call."
)


def across_calls_hint(
    got: Sequence[Any], expected: Sequence[Any], same: Callable[[Any, Any], bool] = looks_like
) -> str:
    """A hint for the results of calls made in sequence (``student.f.in_sequence``) that are not all right.

    The first wrong result that is another call's right answer is the
    evidence: a later call's answer read from an earlier result means it was
    refilled; an earlier call's answer given again means it was remembered.
    """
    for i, value in enumerate(got):
        if same(value, expected[i]):
            continue
        if any(same(value, expected[j]) for j in range(i + 1, len(expected))):
            return HINT_REFILLED
        if any(same(value, expected[j]) for j in range(i)):
            return HINT_REMEMBERS
        return ""
    return ""


def shared_between(first: nn.Module, second: nn.Module) -> bool:
    """Whether two modules are one object or hold one parameter (the codec keeps such sharing across results)."""
    if first is second:
        return True
    ids = {id(p) for p in first.parameters()}
    return any(id(p) in ids for p in second.parameters())
