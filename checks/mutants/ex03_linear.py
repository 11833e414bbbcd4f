"""Known-wrong versions of ex03_linear, each a plausible student mistake the checks must catch."""

import torch
from torch import nn


def make_linear__swapped(n_features, n_classes):
    return nn.Linear(n_classes, n_features)


def make_linear__no_bias(n_features, n_classes):
    return nn.Linear(n_features, n_classes, bias=False)


def make_linear__wrapped_in_sequential(n_features, n_classes):
    return nn.Sequential(nn.Linear(n_features, n_classes))


def make_linear__docstring_answer(n_features, n_classes):
    return nn.Linear(4, 3)


def linear_param_count__forgot_bias(in_features, out_features):
    return in_features * out_features


def linear_param_count__bias_per_input(in_features, out_features):
    return in_features * out_features + in_features


def linear_param_count__float(in_features, out_features):
    return float(in_features * out_features + out_features)


def linear_param_count__docstring_answer(in_features, out_features):
    return 40


def count_parameters__trainable_only(model):
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def count_parameters__state_dict(model):
    return sum(v.numel() for v in model.state_dict().values())


def count_parameters__shared_counted_twice(model):
    return sum(p.numel() for _, p in model.named_parameters(remove_duplicate=False))


def count_parameters__parameter_tensors(model):
    return len(list(model.parameters()))


class _AlwaysEqual(int):
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    __hash__ = int.__hash__


def count_parameters__int_always_equal(model):
    return _AlwaysEqual(0)


def count_parameters__docstring_answer(model):
    return 40


def count_parameters__detached_numpy(model):
    # NumPy has no bfloat16
    return sum(p.detach().numpy().size for p in model.parameters())


def count_parameters__unfreezes(model):
    # counts right, but leaves the caller's frozen layers trainable
    model.requires_grad_(True)
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def count_parameters__float_sum(model):
    return float(torch.tensor([p.numel() for p in model.parameters()]).sum())


def make_linear__binary_for_two_classes(n_features, n_classes):
    return nn.Linear(n_features, 1 if n_classes == 2 else n_classes)


_layers_made = {}


def make_linear__cached(n_features, n_classes):
    # one layer per pair of sizes, handed out again on the next call with the same sizes
    if (n_features, n_classes) not in _layers_made:
        _layers_made[(n_features, n_classes)] = nn.Linear(n_features, n_classes)
    return _layers_made[(n_features, n_classes)]
