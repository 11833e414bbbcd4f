"""Checks for ex04_sequential: stack_layers, stacked_param_count, layer_sizes_for."""

from __future__ import annotations

from itertools import pairwise
from types import ModuleType
from typing import Any, cast

import torch
from torch import nn

from grader.assertions import (
    across_calls_hint,
    assert_int,
    assert_layers,
    assert_tensor_close,
    copy_weights,
    describe,
    explain_known_errors,
    looks_like,
    run_module,
    shape_text,
    shared_between,
)
from grader.checking import StudentRaised, check, fail
from grader.inputs import float_tensors, in_one_request

HINT_NOTHING_ELSE = "Only nn.Linear layers: no activation (ReLU, Sigmoid...) between them."
HINT_OFF_BY_ONE = "n sizes give n - 1 layers: layer i maps sizes[i] to sizes[i+1] (pairwise(sizes))."
HINT_SWAPPED = "Layer i maps sizes[i] inputs to sizes[i+1] outputs: nn.Linear(sizes[i], sizes[i+1])."
HINT_VALUE_ERROR = "Check len(sizes) first and raise ValueError(...) when it is below 2."
HINT_FORGOT_BIAS = "Each layer also has sizes[i+1] biases, one per output."
HINT_BIAS_PER_INPUT = "Each layer has one bias per output (sizes[i+1]), not per input."
HINT_DISTINCT = (
    "Each layer must be its own nn.Linear with its own parameters: create a new nn.Linear(a, b) for every "
    "pair, even when sizes repeat. A dict keyed by size, or one layer object reused, puts one layer in "
    "several places (and training one trains them all)."
)
HINT_NEW_STACK = "Build new layers on every call: a layer kept from an earlier call is shared by both models."
HINT_REPEATED = (
    "Count every layer, also when sizes repeat: [3, 3, 3, 3] makes three layers of 3 * 3 + 3 parameters "
    "each. Compute from the pairs of sizes, not from a model that may reuse one layer."
)
HINT_MAX_LABEL = (
    "Count the distinct labels present (torch.unique(labels)): labels {0, 3, 7} are 3 classes, not labels.max() + 1."
)
HINT_SAMPLES = "features has shape (n_samples, n_features): the number of inputs is features.shape[1]."
HINT_EMPTY = (
    "A data set may have no samples: features.shape[1] still gives the number of features, while "
    "features[0] (the first sample) does not exist."
)
HINT_TUPLE = "Return a tuple (n_inputs, n_outputs), not a list."
HINT_ITEM = "Return Python ints: convert a tensor count with int(...) or .item()."


def _dims(low: int = 2, high: int = 9) -> int:
    return int(torch.randint(low, high, ()))


def _random_sizes(length: int) -> list[int]:
    return torch.randint(2, 12, (length,)).tolist()


# --------------------------------------------------------------------------- stack_layers


def _structure_hint(got: Any, sizes: list[int]) -> str:
    if type(got) is not nn.Sequential:
        return ""
    layers = list(got)
    linears = [layer for layer in layers if type(layer) is nn.Linear]
    if len(linears) != len(layers) and len(linears) == len(sizes) - 1:
        return HINT_NOTHING_ELSE
    if len(linears) in (len(sizes) - 2, len(sizes)):
        return HINT_OFF_BY_ONE
    pairs = [(layer.in_features, layer.out_features) for layer in linears]
    if pairs == [(b, a) for a, b in pairwise(sizes)]:
        return HINT_SWAPPED
    return ""


def _check_stack(student: Any, sizes: list[int]) -> nn.Sequential:
    got = student.stack_layers(sizes)
    expected = [nn.Linear(a, b) for a, b in pairwise(sizes)]
    assert_layers(got, expected, what=f"stack_layers({sizes})", hint=_structure_hint(got, sizes))
    return cast(nn.Sequential, got)


@check("stack_layers", points=1, hint="nn.Sequential(*[nn.Linear(a, b) for each consecutive pair of sizes]).")
def check_stack_layers_structure(student: Any, reference: ModuleType) -> None:
    """Returns an nn.Sequential of exactly len(sizes) - 1 Linear layers, layer i mapping sizes[i] to sizes[i+1]."""
    for length in (3, 4, 5):
        _check_stack(student, _random_sizes(length))


@check("stack_layers", points=1, hint="Two sizes give a Sequential holding a single Linear layer.")
def check_stack_layers_two_sizes(student: Any, reference: ModuleType) -> None:
    """With two sizes, returns a Sequential holding one Linear layer."""
    _check_stack(student, _random_sizes(2))


@check("stack_layers", points=1, hint="The stack must compute Linear after Linear, with nothing in between.")
def check_stack_layers_behaviour(student: Any, reference: ModuleType) -> None:
    """Given the reference's weights, the stack computes the same outputs."""
    sizes = _random_sizes(4)
    got = _check_stack(student, sizes)
    expected = reference.stack_layers(sizes)
    copy_weights(expected, got)
    x = torch.randn(_dims(2, 6), sizes[0])
    with torch.no_grad():
        want = expected(x)
    what = f"stack_layers({sizes}) with the reference's weights"
    assert_tensor_close(
        run_module(got, x, what=what), want, rtol=1e-4, atol=1e-5, what=f"{what}, on x of shape {shape_text(x.shape)}"
    )


@check("stack_layers", points=1, hint=HINT_VALUE_ERROR)
def check_stack_layers_rejects_short_sizes(student: Any, reference: ModuleType) -> None:
    """Raises ValueError when sizes has fewer than 2 entries ([] or a single size)."""
    for sizes in ([], [_dims(2, 20)]):
        try:
            got = student.stack_layers(sizes)
        except ValueError:
            continue
        except StudentRaised as exc:
            fail(f"stack_layers({sizes}) raised {exc.type_name}; expected ValueError", hint=HINT_VALUE_ERROR)
        fail(f"stack_layers({sizes}) returned {describe(got)}; expected it to raise ValueError", hint=HINT_VALUE_ERROR)


def _shared_places(model: nn.Sequential) -> tuple[int, int] | None:
    """The first two positions of ``model`` that hold one layer (or layers sharing a parameter), if any."""
    layers = list(model)
    for j, later in enumerate(layers):
        for i in range(j):
            if shared_between(layers[i], later):
                return i, j
    return None


@check("stack_layers", points=1, hint=HINT_DISTINCT)
def check_stack_layers_distinct_layers(student: Any, reference: ModuleType) -> None:
    """Repeated sizes ([k, k, k, k], [a, b, a, b, a]) still give len(sizes) - 1 distinct layers, each with its own parameters."""
    k, a, b = _dims(2, 6), _dims(2, 6), _dims(6, 10)
    runs = [[k, k, k, k], [a, b, a, b, a]]
    ahead = in_one_request(student, "stack_layers", [(list(sizes),) for sizes in runs])
    for sizes in runs:
        got = _check_stack(ahead, sizes)
        places = _shared_places(got)
        if places is not None:
            fail(
                f"stack_layers({sizes}): layers {places[0]} and {places[1]} are one layer (or share parameters)",
                hint=HINT_DISTINCT,
            )


@check("stack_layers", points=1, hint=HINT_NEW_STACK)
def check_stack_layers_answers_stay(student: Any, reference: ModuleType) -> None:
    """Two calls in a row with the same sizes give two models that share no layer: a result stays its own.

    Read after the second call, in one worker; a layer cached between calls
    arrives as one object in both models.
    """
    sizes = _random_sizes(3)
    first, second = student.stack_layers.in_sequence([((list(sizes),), {}), ((list(sizes),), {})])
    for model in (first, second):
        assert_layers(model, [nn.Linear(a, b) for a, b in pairwise(sizes)], what=f"stack_layers({sizes})")
    for i, (one, other) in enumerate(zip(first, second, strict=True)):
        if shared_between(one, other):
            fail(f"stack_layers({sizes}), called twice in a row: both models hold one layer {i}", hint=HINT_NEW_STACK)


# --------------------------------------------------------------------------- stacked_param_count


def _check_param_count(student: Any, reference: ModuleType, sizes: list[int]) -> None:
    got = student.stacked_param_count(sizes)
    pairs = list(pairwise(sizes))
    hint = ""
    if type(got) is int:
        if got == sum(a * b for a, b in pairs):
            hint = HINT_FORGOT_BIAS
        elif got == sum(a * b + a for a, b in pairs) and sizes[:-1] != sizes[1:]:
            hint = HINT_BIAS_PER_INPUT
    assert_int(got, reference.stacked_param_count(sizes), what=f"stacked_param_count({sizes})", hint=hint)


@check("stacked_param_count", points=1, hint="Add in * out + out over consecutive pairs of sizes.")
def check_stacked_param_count_random_sizes(student: Any, reference: ModuleType) -> None:
    """Counts weights and biases of every layer for several lists of sizes."""
    for length in (3, 4, 5, 6):
        _check_param_count(student, reference, torch.randint(2, 40, (length,)).tolist())


@check("stacked_param_count", points=1, hint="Two sizes make one layer: in * out + out parameters.")
def check_stacked_param_count_two_sizes(student: Any, reference: ModuleType) -> None:
    """With two sizes, counts the parameters of the single layer."""
    _check_param_count(student, reference, [_dims(2, 50), _dims(50, 90)])
    _check_param_count(student, reference, [1, 1])


@check("stacked_param_count", points=1, hint="The count must equal the parameters of the stack_layers(sizes) model.")
def check_stacked_param_count_matches_model(student: Any, reference: ModuleType) -> None:
    """Agrees with counting the parameters of the built model, as a Python int.

    Distinct sizes, so that a bias counted per input (first size) never equals one per output (last size)
    by chance: a verdict must not depend on the seed (the student's copy draws other inputs than the grade).
    """
    sizes = (torch.randperm(29)[:4] + 1).tolist()
    model = reference.stack_layers(sizes)
    got = student.stacked_param_count(sizes)
    assert_int(got, sum(p.numel() for p in model.parameters()), what=f"stacked_param_count({sizes})")


@check("stacked_param_count", points=1, hint=HINT_REPEATED)
def check_stacked_param_count_repeated_sizes(student: Any, reference: ModuleType) -> None:
    """Counts every layer when sizes repeat ([k, k, k, k], [a, b, a, b, a]): each layer has its own parameters."""
    k, a, b = _dims(2, 9), _dims(2, 9), _dims(9, 20)
    runs = [[k, k, k, k], [a, b, a, b, a]]
    ahead = in_one_request(student, "stacked_param_count", [(list(sizes),) for sizes in runs])
    for sizes in runs:
        got = ahead.stacked_param_count(sizes)
        expected = reference.stacked_param_count(sizes)
        distinct = sum(x * y + y for x, y in set(pairwise(sizes)))
        hint = HINT_REPEATED if type(got) is int and got == distinct != expected else ""
        assert_int(got, expected, what=f"stacked_param_count({sizes})", hint=hint)


# --------------------------------------------------------------------------- layer_sizes_for


def _labels_from(values: list[int], n_samples: int) -> torch.Tensor:
    """``n_samples`` int64 labels drawn from ``values``, each value present at least once, shuffled."""
    picks = torch.tensor(values)[torch.randint(0, len(values), (n_samples,))]
    picks[: len(values)] = torch.tensor(values)
    return picks[torch.randperm(n_samples)]


def _check_sizes(
    student: Any, reference: ModuleType, features: torch.Tensor, labels: torch.Tensor, kind: str = ""
) -> None:
    expected = reference.layer_sizes_for(features, labels)
    what = (
        f"layer_sizes_for(features, labels) for features of shape {shape_text(features.shape)} "
        f"and labels {sorted(set(labels.tolist()))} (each present){kind}"
    )
    with explain_known_errors(what):
        got = student.layer_sizes_for(features, labels)
    if type(got) is not tuple or len(got) != 2:
        hint = HINT_TUPLE if type(got) is list and len(got) == 2 else ""
        fail(f"{what}: expected the tuple {expected}, got {describe(got)}", hint=hint)
    if any(isinstance(v, torch.Tensor) for v in got):
        fail(
            f"{what}: expected the tuple of ints {expected}, got {describe(got[0])} and {describe(got[1])}",
            hint=HINT_ITEM,
        )
    n_inputs, n_outputs = got
    hint = HINT_SAMPLES if type(n_inputs) is int and n_inputs == features.shape[0] else ""
    assert_int(n_inputs, expected[0], what=f"{what}, n_inputs", hint=hint)
    maximum = int(labels.max()) if labels.numel() else None
    hint = (
        HINT_MAX_LABEL if maximum is not None and type(n_outputs) is int and n_outputs in (maximum, maximum + 1) else ""
    )
    assert_int(n_outputs, expected[1], what=f"{what}, n_outputs", hint=hint)


@check("layer_sizes_for", points=1, hint="n_inputs is features.shape[1]; n_outputs the number of distinct labels.")
def check_layer_sizes_for_all_labels_present(student: Any, reference: ModuleType) -> None:
    """Returns (number of features, number of classes) when the labels are 0 .. k-1."""
    for _ in range(2):
        k, n_features = _dims(2, 6), _dims(6, 12)
        n_samples = _dims(12, 30)
        _check_sizes(student, reference, torch.randn(n_samples, n_features), _labels_from(list(range(k)), n_samples))


@check("layer_sizes_for", points=1, hint="Count the distinct labels present, whatever their values.")
def check_layer_sizes_for_labels_with_gaps(student: Any, reference: ModuleType) -> None:
    """Counts the distinct labels present, e.g. labels {0, 3, 7} give 3 outputs (not 7 or 8)."""
    k = _dims(3, 6)
    gappy = sorted([0, *(torch.randperm(15)[: k - 1] + 5).tolist()])
    shifted = list(range(_dims(2, 5), _dims(2, 5) + 10))[: _dims(2, 5)]
    for values in (gappy, shifted):
        n_samples = _dims(15, 40)
        _check_sizes(student, reference, torch.randn(n_samples, _dims(2, 9)), _labels_from(values, n_samples))


@check("layer_sizes_for", points=1, hint="Return a tuple of two Python ints.")
def check_layer_sizes_for_types(student: Any, reference: ModuleType) -> None:
    """Returns a tuple of two Python ints, for a single-feature data set too."""
    n_samples = _dims(5, 15)
    _check_sizes(student, reference, torch.randn(n_samples, 1), _labels_from([0, 1], n_samples))
    _check_sizes(student, reference, torch.randn(n_samples, _dims(3, 9)), torch.zeros(n_samples, dtype=torch.int64))


@check("layer_sizes_for", points=1, hint="features.shape[1] and torch.unique(labels) work for any float tensor.")
def check_layer_sizes_for_other_kinds_of_tensors(student: Any, reference: ModuleType) -> None:
    """Works for float64 features that are a transposed view with step-sliced labels, and for features that require grad."""
    n_samples, n_features = _dims(12, 30), _dims(2, 9)
    features = torch.randn(n_features, n_samples, dtype=torch.float64).T
    labels = _labels_from([0, 1, 2], 2 * n_samples)[::2]
    _check_sizes(student, reference, features, labels, " (a transposed float64 view, step-sliced labels)")
    features = torch.randn(n_samples, n_features, requires_grad=True)
    _check_sizes(student, reference, features, _labels_from([0, 1], n_samples), " (features that require grad)")


@check("layer_sizes_for", points=1, hint="features.shape[1] and torch.unique(labels) work for every tensor.")
def check_layer_sizes_for_any_tensor(student: Any, reference: ModuleType) -> None:
    """Works for features of every float kind the contract names (requires grad, an nn.Parameter, transposed, step-sliced and expanded views, float16, bfloat16, float64, an empty data set), with step-sliced labels."""
    n_samples, n_features = _dims(12, 30), _dims(2, 9)
    cases = []
    for kind, features in float_tensors((n_samples, n_features)):
        if features.dim() != 2:
            continue  # features are (n_samples, n_features)
        rows = features.shape[0]
        labels = _labels_from([0, 1, 2], 2 * rows)[::2] if rows >= 2 else torch.zeros(0, dtype=torch.int64)
        cases.append((kind, features, labels))
    ahead = in_one_request(student, "layer_sizes_for", [(features, labels) for _, features, labels in cases])
    for kind, features, labels in cases:
        rows = features.shape[0]
        try:
            _check_sizes(ahead, reference, features, labels, f" (features: {kind}, labels step-sliced)")
        except StudentRaised as exc:
            if rows:
                raise
            fail(
                f"layer_sizes_for(features, labels) for a data set of no samples, features of shape {shape_text(features.shape)}: {exc.reason}",
                hint=HINT_EMPTY,
            )


@check("layer_sizes_for", points=1, hint="Compute both sizes from the tensors you are given, on every call.")
def check_layer_sizes_for_answers_stay(student: Any, reference: ModuleType) -> None:
    """Two data sets of one shape but different numbers of classes, in a row: each gets its own answer (none remembered by shape)."""
    n_samples, n_features = _dims(12, 30), _dims(2, 9)
    data = [
        (torch.randn(n_samples, n_features), _labels_from(list(range(k)), n_samples))
        for k in (_dims(2, 4), _dims(4, 7))
    ]
    got = student.layer_sizes_for.in_sequence([(pair, {}) for pair in data])
    expected = [reference.layer_sizes_for(*pair) for pair in data]
    expected = [(int(a), int(b)) for a, b in expected]
    hint = across_calls_hint(got, expected)
    for i, (value, want) in enumerate(zip(got, expected, strict=True)):
        what = f"layer_sizes_for(features, labels) for the data set {i + 1} of 2 (features {shape_text((n_samples, n_features))}), called in a row"
        if not looks_like(value, want):
            fail(f"{what}: expected {want}, got {describe(value)}", hint=hint)
