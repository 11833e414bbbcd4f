"""Values that cross a real sandbox worker: tensors of every layout, and modules whose code stays there.

Everything here goes through a forked worker (``SubmissionRunner``) and the
``student`` proxy, as in grading: the student's file is real source run in
the worker, never imported here.
"""

from __future__ import annotations

import copy
import struct
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

from grader import codec
from grader.assertions import run_module
from grader.checking import StudentCrashed, StudentTimeout, UnsupportedValue
from grader.proxy import CallLog, StudentModule
from grader.sandbox import runner as runner_module
from grader.sandbox.client import Zygote
from grader.sandbox.limits import Limits
from grader.sandbox.runner import SubmissionRunner

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("hypothesis_home")]

#: Builds a tensor view from a seed and a layout; run by the worker as the
#: student's code, and here (``exec``) for the value it must equal.
BUILDER = """
import torch


def storage(seed, n, dtype_name):
    g = torch.Generator().manual_seed(seed)
    dtype = getattr(torch, dtype_name)
    values = torch.randn(n, 2, generator=g, dtype=torch.float64) * 100
    if dtype.is_complex:
        return torch.view_as_complex(values).to(dtype)
    if dtype == torch.bool:
        return values[:, 0] > 0
    if dtype == torch.uint8:
        return values[:, 0].abs().to(dtype)
    return values[:, 0].to(dtype)


def build(seed, n, dtype_name, size, stride, offset, ops):
    base = storage(seed, n, dtype_name)
    if "grad" in ops:
        base.requires_grad_(True)
    view = base.as_strided(size, stride, offset)
    for op in ops:
        if op == "transpose" and view.dim() >= 2:
            view = view.transpose(0, -1)
        elif op == "movedim" and view.dim() >= 2:
            view = view.movedim(0, -1)
        elif op == "expand":
            view = view.unsqueeze(0).expand(3, *view.shape)
        elif op == "step" and view.dim() >= 1:
            view = view[::2]
        elif op == "conj" and view.is_complex():
            view = view.conj()
        elif op == "neg" and view.is_complex():
            view = torch._neg_view(view)
    return view


def big_view(which):
    big = torch.arange(16 * 1024 * 1024, dtype=torch.float32)  # 64 MiB of storage
    views = {"slice": big[5:7], "strided": big[:: 4 * 1024 * 1024], "scalar": big[123]}
    return views[which] if which in views else big[7:8].expand(4, 5)
"""

MODELS = """
import time
import torch
from torch import nn


class Doubler(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.lin = nn.Linear(n, 2)
        self.n_features = n

    def forward(self, x):
        print("forward of", type(self).__name__)
        return 2 * self.lin(x)


class Head(nn.Linear):
    def forward(self, x):
        return super().forward(x) + 1


class Slow(nn.Module):
    def forward(self, x):
        while True:
            time.sleep(0.05)


class Halver(nn.Sequential):
    def __init__(self, n):
        super().__init__(nn.Linear(n, n))

    def forward(self, x):
        return self[0](x) / 2


def halver(n):
    return Halver(n)


def same_list(a, b):
    return a is b


def make(n):
    return Doubler(n)


def head(n, m):
    return Head(n, m)


def slow():
    return Slow()


def describe(model):
    return type(model).__name__, sum(p.numel() for p in model.parameters()), float(model.lin.weight.sum())


def run(model, x):
    return model(x)


def hang():
    while True:
        time.sleep(0.05)


_BUFFER = torch.zeros(2)
_CACHE = {}


def refilled(x):
    _BUFFER.copy_(x)
    return _BUFFER


def remembered(x):
    return _CACHE.setdefault(tuple(x.shape), x * 2)


def fresh(x):
    return x * 2


def shared_layer(n):
    return _CACHE.setdefault(n, nn.Linear(n, 2))


def raises_second(x):
    _CACHE["calls"] = _CACHE.get("calls", 0) + 1
    if _CACHE["calls"] > 1:
        raise ValueError("only once")
    return x


def bent():
    layer = nn.Linear(2, 3)
    layer.in_features = 5  # its weight is still (3, 2)
    return layer
"""


@pytest.fixture(scope="module")
def zygote() -> Iterator[Zygote]:
    with Zygote().start() as z:
        yield z


def _student(zygote: Zygote, scratch: Path, exercise: str, source: str, *, timeout_s: float = 5.0) -> StudentModule:
    runner = SubmissionRunner(
        zygote, {f"{exercise}.py": textwrap.dedent(source).encode()}, Limits(timeout_s=timeout_s), scratch
    )
    return StudentModule(runner, exercise, provided=True, seed=1, log=CallLog())


@pytest.fixture(scope="module")
def layouts(zygote: Zygote, tmp_path_factory: pytest.TempPathFactory) -> Iterator[StudentModule]:
    student = _student(zygote, tmp_path_factory.mktemp("layouts"), "layouts", BUILDER)
    yield student
    student._runner.close()


@pytest.fixture
def models(zygote: Zygote, tmp_path: Path) -> Iterator[StudentModule]:
    student = _student(zygote, tmp_path, "ex_models", MODELS, timeout_s=1.5)
    yield student
    student._runner.close()


@pytest.fixture
def blob_sizes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The data part (raw tensor bytes) of every codec message a worker sends, as it arrives."""
    sizes: list[int] = []
    unpack = runner_module.unpack_answer

    def recording(frame: bytes, budget: Any = None) -> tuple[dict[str, Any], memoryview]:
        meta, value = unpack(frame, budget)
        if value:
            sizes.append(struct.unpack(">II", value[4:12])[1])
        return meta, value

    monkeypatch.setattr(runner_module, "unpack_answer", recording)
    return sizes


REFERENCE: dict[str, Any] = {}
exec(compile(BUILDER, "<builder>", "exec"), REFERENCE)  # the test's own builder, for expected values

OPS = ("transpose", "movedim", "expand", "step", "conj", "neg", "grad")


@st.composite
def layouts_strategy(draw: st.DrawFn) -> tuple[Any, ...]:
    # Complex dtypes twice as often: they alone carry conjugate and negative bits.
    dtype_name = draw(st.sampled_from([*sorted(codec.DTYPES), "complex64", "complex128"]))
    ndim = draw(st.integers(0, 4))
    size = draw(st.lists(st.sampled_from([0, 1, 2, 3, 4, 5]), min_size=ndim, max_size=ndim))
    stride = draw(st.lists(st.integers(0, 7), min_size=ndim, max_size=ndim))
    offset = draw(st.integers(0, 30))
    span = sum((s - 1) * st_ for s, st_ in zip(size, stride, strict=True) if s) if all(size) else 0
    n = offset + span + 1 + draw(st.integers(0, 40))
    ops = draw(st.lists(st.sampled_from(OPS[:4]), max_size=4, unique=True))
    ops += [flag for flag in OPS[4:] if draw(st.booleans())]
    dtype = codec.DTYPES[dtype_name]
    if "grad" in ops and not (dtype.is_floating_point or dtype.is_complex):
        ops.remove("grad")
    return draw(st.integers(0, 2**31 - 1)), n, dtype_name, size, stride, offset, ops


def _assert_same_tensor(got: Any, want: torch.Tensor) -> None:
    assert type(got) is torch.Tensor
    assert got.dtype == want.dtype and got.shape == want.shape
    assert got.requires_grad == want.requires_grad
    assert not got.is_conj() and not got.is_neg()
    # Bit for bit, NaN included: the bytes of the values, read in order.
    assert codec.tensor_bytes(got)[1] == codec.tensor_bytes(want)[1]
    assert got.untyped_storage().nbytes() == want.numel() * want.element_size()


@settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(layout=layouts_strategy())
def test_any_tensor_layout_comes_back_as_its_value(
    layouts: StudentModule, blob_sizes: list[int], layout: tuple[Any, ...]
) -> None:
    blob_sizes.clear()
    want = REFERENCE["build"](*layout)
    got = layouts.build(*layout)
    _assert_same_tensor(got, want)
    assert blob_sizes == [want.numel() * want.element_size()]  # only the elements travel, once each


@pytest.mark.parametrize(("which", "numel"), [("slice", 2), ("strided", 4), ("scalar", 1), ("expand", 20)])
def test_a_small_view_of_a_giant_storage_sends_only_its_elements(
    layouts: StudentModule, blob_sizes: list[int], which: str, numel: int
) -> None:
    blob_sizes.clear()
    got = layouts.big_view(which)
    _assert_same_tensor(got, REFERENCE["big_view"](which))
    assert blob_sizes == [numel * 4]


def test_sort_indices_of_a_batch_of_one_come_back(layouts: StudentModule) -> None:
    """The issue's case: ``torch.sort(...).indices[:, 0]``, a strided int64 view."""
    for batch in (1, 4):
        layout = (3, 3 * batch, "int64", [batch], [3], 0, [])
        _assert_same_tensor(layouts.build(*layout), REFERENCE["build"](*layout))


# --------------------------------------------------------------------------- modules that stay in the worker


def test_calling_a_remote_model_runs_the_students_object(models: StudentModule) -> None:
    model = models.make(3)
    assert type(model) is codec.RemoteModule and codec.student_class(model) == "Doubler"
    assert model.n_features == 3 and type(model.lin) is nn.Linear
    x = torch.randn(4, 3)
    with torch.no_grad():
        want = 2 * model.lin(x)
        got = model(x)
    assert torch.allclose(got, want) and not got.requires_grad
    assert models._log.outputs[-1] == ("the Doubler that make returned", "forward of Doubler\n")
    # The trusted side's parameters are the truth: a change here reaches the worker's object.
    with torch.no_grad():
        model.lin.weight.fill_(0.5)
        model.lin.bias.zero_()
    assert torch.allclose(model.forward(x), 2 * x.sum(dim=1, keepdim=True).expand(4, 2) * 0.5)
    assert "returned your class Doubler" in models._log.notes[0]


def test_a_remote_subclass_of_a_standard_layer_keeps_its_type_for_structure(models: StudentModule) -> None:
    head = models.head(3, 2)
    assert type(head) is nn.Linear and (head.in_features, head.out_features) == (3, 2)
    forward = codec.remote_forward(head)
    assert forward is not None and forward.why == "it defines its own forward"
    x = torch.randn(5, 3)
    assert torch.allclose(run_module(head, x, what="head"), nn.functional.linear(x, head.weight, head.bias) + 1)


def test_a_remote_model_passed_back_is_the_workers_object_with_this_sides_values(models: StudentModule) -> None:
    model = models.make(3)
    with torch.no_grad():
        model.lin.weight.fill_(1.0)
    name, count, weight_sum = models.describe(model)
    assert (name, count, weight_sum) == ("Doubler", 3 * 2 + 2, 6.0)
    _, args_after, _ = models.describe.returning_args(model)
    again = codec.remote_forward(args_after[0])
    assert again is not None and again.handle == codec.remote_forward(model).handle  # type: ignore[union-attr]
    # Inside a module built here, it is still called where it lives.
    x = torch.randn(2, 3)
    wrapped = nn.Sequential(model, nn.ReLU())
    with torch.no_grad():
        assert torch.allclose(models.run(wrapped, x), torch.relu(model(x)))


def test_a_deep_copy_calls_with_its_own_parameters(models: StudentModule) -> None:
    model = models.make(2)
    twin = copy.deepcopy(model)
    with torch.no_grad():
        twin.lin.weight.zero_()
        twin.lin.bias.fill_(1.0)
        assert torch.equal(twin(torch.randn(3, 2)), torch.full((3, 2), 2.0))
        x = torch.randn(3, 2)
        assert torch.allclose(model(x), 2 * model.lin(x))


def test_a_deep_copy_of_a_remote_container_keeps_its_layers(models: StudentModule) -> None:
    model = models.halver(2)  # an nn.Sequential subclass with its own forward: it stays in the worker
    twin = copy.deepcopy(model)
    assert type(twin) is nn.Sequential and len(twin) == 1
    x = torch.randn(3, 2)
    with torch.no_grad():
        assert torch.allclose(twin(x), model[0](x) / 2)


def test_an_argument_passed_twice_arrives_as_one_object(models: StudentModule) -> None:
    shared = [1, 2]
    assert models.same_list(shared, shared) is True


def test_a_sequence_reads_every_result_after_the_last_call(models: StudentModule) -> None:
    a, b = torch.tensor([1.0, 2.0]), torch.tensor([3.0, 4.0])
    first, second = models.refilled.in_sequence([((a,), {}), ((b,), {})])
    assert torch.equal(first, b) and torch.equal(second, b)  # the first result, refilled by the second call
    assert [v.tolist() for v in models.fresh.in_sequence([((a,), {}), ((b,), {})])] == [[2.0, 4.0], [6.0, 8.0]]
    assert [v.tolist() for v in models.remembered.in_sequence([((a,), {}), ((b,), {})])] == [[2.0, 4.0]] * 2


def test_a_sequence_keeps_objects_shared_between_its_results(models: StudentModule) -> None:
    first, second, other = models.shared_layer.in_sequence([((3,), {}), ((3,), {}), ((4,), {})])
    assert first is second and first is not other and type(first) is nn.Linear


def test_a_sequence_fails_as_its_failing_call(models: StudentModule) -> None:
    with pytest.raises(Exception, match="only once"):
        models.raises_second.in_sequence([((torch.ones(1),), {}), ((torch.ones(1),), {})])


def test_a_remote_model_that_hangs_times_out_as_the_students_failure(models: StudentModule) -> None:
    model = models.slow()
    with pytest.raises(StudentTimeout, match="the Slow that slow returned timed out"):
        run_module(model, torch.zeros(1), what="slow()")


def test_a_model_of_a_replaced_worker_is_refused_clearly(models: StudentModule) -> None:
    model = models.make(3)
    with pytest.raises(StudentTimeout):
        models.hang()  # the worker is killed; the next call gets a fresh one
    with pytest.raises(StudentCrashed, match="cannot be run any more: it was made in a sandbox process"):
        model(torch.zeros(1, 3))
    with pytest.raises(StudentCrashed, match="the Doubler passed to it cannot be run any more"):
        models.describe(model)
    assert models.make(3)(torch.zeros(1, 3)).shape == (1, 2)  # a new model from the new worker works


def test_no_student_code_reaches_the_trusted_process(models: StudentModule) -> None:
    model = models.make(3)
    model(torch.zeros(1, 3))
    classes = {type(m) for m in model.modules()} | {type(codec.remote_forward(model))}
    assert all(c.__module__.startswith(("torch.", "grader.")) for c in classes), classes
    assert "ex_models" not in sys.modules


def test_a_description_that_does_not_fit_says_so(models: StudentModule) -> None:
    with pytest.raises(UnsupportedValue, match=r"bent returned a value that could not be rebuilt .*does not fit"):
        models.bent()
    assert models.make(2)(torch.zeros(1, 2)).shape == (1, 2)  # a fresh worker serves the next call
