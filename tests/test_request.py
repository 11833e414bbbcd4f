"""Requests to a worker: tensors travel as raw bytes, and arrive as the check built them."""

from __future__ import annotations

import pickle
import warnings

import pytest
import torch
from torch import nn

from grader.sandbox.request import pack_request


def roundtrip(value: object) -> object:
    return pickle.loads(pack_request({"args": (value,)}))["args"][0]


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
    ],
    ids=lambda t: f"{t.dtype}-{tuple(t.shape)}",
)
def test_tensors_arrive_with_dtype_shape_and_values(tensor: torch.Tensor) -> None:
    got = roundtrip(tensor)
    assert type(got) is torch.Tensor
    assert got.dtype == tensor.dtype
    assert got.shape == tensor.shape
    assert torch.equal(got, tensor.resolve_conj().resolve_neg())
    assert got.is_contiguous()
    assert not got.is_conj() and not got.is_neg()


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


def test_the_same_tensor_twice_arrives_as_one_object() -> None:
    x = torch.ones(3)
    first, second = roundtrip((x, x))  # type: ignore[misc]
    assert first is second


def test_tensors_without_plain_cpu_data_fall_back_to_torch_pickling() -> None:
    sparse = torch.eye(3).to_sparse()
    got = roundtrip(sparse)
    assert got.layout == torch.sparse_coo  # type: ignore[union-attr]
    assert torch.equal(got.to_dense(), torch.eye(3))  # type: ignore[union-attr]
