"""Requests to a worker: tensors travel as raw bytes, and arrive as the check built them."""

from __future__ import annotations

import builtins
import io
import pickle
import warnings
from collections import OrderedDict
from typing import Any

import pytest
import torch
from torch import nn

from grader.codec import HandleRef
from grader.sandbox import request as request_module
from grader.sandbox.request import load_request, pack_request


def roundtrip(value: object) -> object:
    """``value`` as a worker receives it (``load_request``)."""
    return load_request(pack_request({"args": (value,)}))["args"][0]


@pytest.mark.parametrize(
    "tensor",
    [
        torch.arange(12, dtype=torch.float32).reshape(3, 4),
        torch.arange(6, dtype=torch.float64).reshape(2, 3).t(),  # not contiguous
        torch.tensor(3.5),  # zero dimensions
        torch.empty(0, 5),
        torch.tensor([[True, False]]),
        torch.tensor([1, -2, 3], dtype=torch.int64),
        torch.tensor([255, 0], dtype=torch.uint8),
        torch.tensor([1.5, -2.25], dtype=torch.float16),
        torch.tensor([1.5, -2.25], dtype=torch.bfloat16),
        torch.tensor([1 + 2j, 3 - 4j], dtype=torch.complex64).conj(),  # a lazy conjugate view
        torch.tensor([1.0, 2.0]).neg().conj(),
        torch.arange(10.0)[::3],  # a strided view of a larger storage
        torch.arange(12.0).reshape(3, 4)[1:, 1:],  # a view with a storage offset
        torch.randn(3).expand(4, 3),  # stride 0
        torch.randn(4, 1)[:1, :1].squeeze(1),  # "contiguous" but with a wider stride (a batch of one)
        torch.arange(24, dtype=torch.int32).reshape(2, 3, 4).permute(2, 0, 1),
        torch.tensor([True, False, True, True])[1::2],
        torch.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=torch.bfloat16).t(),
    ],
    ids=lambda t: f"{t.dtype}-{tuple(t.shape)}",
)
def test_tensors_arrive_with_dtype_shape_and_values(tensor: torch.Tensor) -> None:
    got = roundtrip(tensor)
    assert type(got) is torch.Tensor
    assert got.dtype == tensor.dtype
    assert got.shape == tensor.shape
    assert torch.equal(got, tensor.resolve_conj().resolve_neg())
    assert not got.is_conj() and not got.is_neg()
    if not (tensor.is_conj() or tensor.is_neg()):  # a lazy view is resolved into a tensor of its own
        assert got.stride() == tensor.stride()
        assert got.storage_offset() == tensor.storage_offset()
        assert got.is_contiguous() == tensor.is_contiguous()


def test_arrived_tensors_are_writable_and_share_nothing_with_the_original() -> None:
    original = torch.zeros(4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # frombuffer warns on a read-only buffer
        got = roundtrip(original)
        got.add_(1)  # a student may modify its argument in place
    assert torch.equal(original, torch.zeros(4))
    assert torch.equal(got, torch.ones(4))


def test_requires_grad_and_parameters_are_kept() -> None:
    leaf = torch.ones(2, requires_grad=True)
    computed = leaf * 3  # not a leaf: arrives as a leaf with the same values
    param = nn.Parameter(torch.full((2,), 2.0))
    frozen = nn.Parameter(torch.ones(1), requires_grad=False)
    got_leaf, got_computed, got_param, got_frozen = roundtrip((leaf, computed, param, frozen))  # type: ignore[misc]
    assert got_leaf.requires_grad and got_leaf.is_leaf
    assert got_computed.requires_grad and got_computed.is_leaf
    assert torch.equal(got_computed.detach(), torch.full((2,), 3.0))
    assert type(got_param) is nn.Parameter and got_param.requires_grad
    assert type(got_frozen) is nn.Parameter and not got_frozen.requires_grad
    weight = nn.Parameter(torch.randn(2, 3))
    transposed = roundtrip(weight.T)  # a view of a parameter: a plain tensor that requires grad
    assert type(transposed) is torch.Tensor and transposed.requires_grad
    assert transposed.stride() == (1, 3)


def test_modules_arrive_in_the_mode_the_check_left_them() -> None:
    model = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5), nn.BatchNorm1d(2)).train()
    model[2].eval()
    got = roundtrip(model)
    assert isinstance(got, nn.Sequential)
    assert [m.training for m in got.modules()] == [True, True, True, False]
    assert not roundtrip(model.eval()).training  # type: ignore[union-attr]


def test_modules_arrive_working_with_shared_parameters_still_shared() -> None:
    torch.manual_seed(0)
    shared = nn.Linear(3, 3)
    model = nn.Sequential(shared, nn.ReLU(), shared, nn.BatchNorm1d(3)).eval()
    x = torch.randn(5, 3)
    got = roundtrip(model)
    assert isinstance(got, nn.Sequential)
    assert got[0] is got[2]
    assert torch.equal(got(x), model(x))
    assert torch.equal(got[3].running_var, model[3].running_var)
    assert not got.training


def test_a_view_behaves_in_the_worker_as_it_does_for_the_student() -> None:
    x = torch.randn(3, 4)
    got = roundtrip(x.t())
    assert isinstance(got, torch.Tensor)
    with pytest.raises(RuntimeError, match="view size is not compatible"):
        got.view(-1)  # as it raises on the student's own machine
    expanded = roundtrip(torch.zeros(3).expand(2, 3))
    assert isinstance(expanded, torch.Tensor)
    with pytest.raises(RuntimeError, match="single memory location"):
        expanded.add_(1)


def test_views_of_one_storage_still_share_it_and_travel_once() -> None:
    base = torch.arange(6.0).reshape(2, 3)
    request = {"args": (base, base.t(), base[1])}
    got_base, got_t, got_row = load_request(pack_request(request))["args"]
    got_t[0, 1] = 100.0  # base[1, 0]
    assert got_base[1, 0] == 100.0 and got_row[0] == 100.0
    assert got_base.untyped_storage().data_ptr() == got_row.untyped_storage().data_ptr()
    one = len(pack_request({"args": (torch.zeros(1000),)}))
    three = len(pack_request({"args": (lambda z: (z, z.t(), z[1:]))(torch.zeros(10, 100))}))
    assert three < one + 400  # the 4000 bytes of values once, plus three small headers


def test_the_same_tensor_twice_arrives_as_one_object() -> None:
    x = torch.ones(3)
    first, second = roundtrip((x, x))  # type: ignore[misc]
    assert first is second


def test_tensors_without_plain_cpu_data_fall_back_to_torch_pickling() -> None:
    sparse = torch.eye(3).to_sparse()
    got = roundtrip(sparse)
    assert got.layout == torch.sparse_coo  # type: ignore[union-attr]
    assert torch.equal(got.to_dense(), torch.eye(3))  # type: ignore[union-attr]


def _same(got: Any, want: Any) -> None:
    """Two loaded requests are the same objects: types, values, tensors' views and what they share."""
    assert type(got) is type(want)
    if isinstance(want, torch.Tensor) and want.layout != torch.strided:
        assert got.layout == want.layout and torch.equal(got.to_dense(), want.to_dense())
    elif isinstance(want, torch.Tensor):
        assert got.dtype == want.dtype and got.shape == want.shape and got.stride() == want.stride()
        assert got.storage_offset() == want.storage_offset() and got.requires_grad == want.requires_grad
        assert torch.equal(got.detach(), want.detach())
    elif isinstance(want, (tuple, list)):
        assert len(got) == len(want)
        for a, b in zip(got, want, strict=True):
            _same(a, b)
    elif isinstance(want, dict):
        assert list(got) == list(want)
        for key in want:
            _same(got[key], want[key])
    elif isinstance(want, HandleRef):
        assert (got.handle, got.training) == (want.handle, want.training)
        _same(got.state, want.state)
    elif isinstance(want, nn.Module):
        assert got.training == want.training and repr(got) == repr(want)
        _same(list(got.state_dict().values()), list(want.state_dict().values()))
    else:
        assert got == want


def test_the_worker_loads_a_request_as_pickle_loads_it() -> None:
    base = torch.arange(6.0).reshape(2, 3)
    requests = [
        {"op": "call", "args": (1, 2.5, "x", None), "kwargs": {}},  # no global: pickle.loads itself
        {"args": (base, base.t(), base[1], torch.tensor(7, dtype=torch.int8)), "kwargs": {"dim": 1}},
        {"args": (nn.Parameter(torch.ones(2)), torch.ones(2, requires_grad=True), torch.Size([2, 3]))},
        {"args": ([torch.float16, torch.bfloat16, torch.bool, torch.complex64],)},
        {"args": (OrderedDict(a=torch.zeros(1)), {1, 2}, slice(1, 3), torch.eye(2).to_sparse())},
        {"args": (HandleRef(3, [("weight", torch.ones(2, 2))], training=False),)},
        {"args": (nn.Sequential(nn.Linear(2, 2), nn.ReLU()),)},
        {"args": (torch.tensor([147.0]),)},  # its data holds STACK_GLOBAL's byte, 0x93: the table gives the same
    ]
    for request in requests:
        packed = pack_request(request)
        got, want = load_request(packed), pickle.loads(packed)
        _same(got, want)
    views = load_request(pack_request(requests[1]))["args"]
    assert views[0].untyped_storage().data_ptr() == views[2].untyped_storage().data_ptr()


def test_the_table_of_globals_holds_what_find_class_finds() -> None:
    finder = pickle.Unpickler(io.BytesIO(b""))
    for (module, name), value in request_module._KNOWN_GLOBALS.items():
        assert finder.find_class(module, name) is value, (module, name)


def test_only_the_tables_globals_are_found_without_importing(monkeypatch: pytest.MonkeyPatch) -> None:
    """In the worker ``__import__`` is the meter that names modules a call loads: any other global still reaches it."""
    imported: list[str] = []
    original = builtins.__import__

    def spy(name: str, *args: Any, **kwargs: Any) -> Any:
        imported.append(name)
        return original(name, *args, **kwargs)

    tensors = pack_request({"args": (torch.ones(2, 3).t(), torch.zeros(2, dtype=torch.int64), torch.Size([1]))})
    others = pack_request({"args": (OrderedDict(a=1),)})
    monkeypatch.setattr(builtins, "__import__", spy)
    load_request(tensors)
    assert imported == []
    load_request(others)
    assert imported == ["collections"]


def test_only_a_request_naming_a_handle_may_hold_one() -> None:
    plain = pack_request({"op": "call", "args": ([torch.ones(2)], (1, [2.0])), "kwargs": {"k": {"a": [3]}}})
    held = HandleRef(3, [("weight", torch.ones(2, 2))], training=False)
    nested = pack_request({"op": "call", "args": ([1, (held,)],), "kwargs": {}})
    keyword = pack_request({"op": "call", "args": (), "kwargs": {"model": held}})
    assert not request_module.may_hold_handles(plain)
    assert request_module.may_hold_handles(nested) and request_module.may_hold_handles(keyword)
