"""The helpers checks use to judge answers across calls and arguments left as they were (no sandbox needed)."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from grader.assertions import (
    HINT_REFILLED,
    HINT_REMEMBERS,
    across_calls_hint,
    shared_between,
    unchanged_model,
)
from grader.checking import CheckFailed
from grader.inputs import float_tensors, integer_tensors


def test_a_result_refilled_by_a_later_call_is_named() -> None:
    a, b = torch.tensor([1.0]), torch.tensor([2.0])
    assert across_calls_hint([b, b], [a, b]) == HINT_REFILLED


def test_an_answer_remembered_from_an_earlier_call_is_named() -> None:
    a, b = torch.tensor([1.0]), torch.tensor([2.0])
    assert across_calls_hint([a, a], [a, b]) == HINT_REMEMBERS


def test_right_answers_and_unrelated_wrong_ones_get_no_hint() -> None:
    a, b = torch.tensor([1.0]), torch.tensor([2.0])
    assert across_calls_hint([a, b], [a, b]) == ""
    assert across_calls_hint([a, torch.tensor([9.0])], [a, b]) == ""


def test_shared_between_sees_one_object_or_one_parameter_not_equal_values() -> None:
    torch.manual_seed(0)
    first = nn.Linear(2, 3)
    torch.manual_seed(0)
    twin = nn.Linear(2, 3)  # equal values, its own parameters
    assert not shared_between(first, twin)
    assert shared_between(first, first)
    tied = nn.Linear(2, 3)
    tied.weight = first.weight
    assert shared_between(first, tied)


def _model() -> nn.Sequential:
    model = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
    model[0].requires_grad_(False)
    return model


@pytest.mark.parametrize(
    ("change", "text"),
    [
        (lambda m: m[1].running_mean.add_(1.0), "buffer 1.running_mean"),
        (lambda m: m[0].requires_grad_(True), "it was frozen"),
        (lambda m: m[1].weight.data.mul_(2.0), "parameter 1.weight"),
    ],
)
def test_unchanged_model_names_the_changed_buffer_flag_or_parameter(change: object, text: str) -> None:
    before = _model()
    after = copy.deepcopy(before)
    change(after)  # type: ignore[operator]
    with pytest.raises(CheckFailed, match=text):
        unchanged_model(before, after, what="the model")


def test_unchanged_model_accepts_a_switched_mode() -> None:
    before = _model().train()
    unchanged_model(before, copy.deepcopy(before).eval(), what="the model")


def test_every_kind_of_tensor_the_contract_names_is_drawn() -> None:
    kinds = dict(float_tensors((3, 4)))
    assert kinds["a float32 tensor that requires grad"].requires_grad
    assert type(kinds["an nn.Parameter (float32)"]) is nn.Parameter
    assert not kinds["a transposed view"].is_contiguous()
    assert not kinds["a view sliced with a step"].is_contiguous()
    assert kinds["an expanded view"].stride()[0] == 0
    assert {t.dtype for t in kinds.values()} >= {torch.float16, torch.bfloat16, torch.float64}
    assert kinds["a 0-d tensor"].dim() == 0 and kinds["an empty tensor"].numel() == 0
    assert {t.dtype for _, t in integer_tensors((3, 4))} == {torch.int64, torch.int32, torch.uint8}
