"""Known-wrong versions of ex05_activations, each a plausible student mistake the checks must catch."""

import numpy as np
import torch
from torch import nn


def apply_sigmoid__exp_ratio(x):
    return torch.exp(x) / (1 + torch.exp(x))


def apply_sigmoid__sign_flipped(x):
    return 1 / (1 + torch.exp(x))


def apply_sigmoid__tanh(x):
    return torch.tanh(x)


def apply_sigmoid__docstring_answer(x):
    return torch.tensor([0.5, 1.0, 0.0])


def apply_softmax__naive_exp(x, dim):
    e = torch.exp(x)
    return e / e.sum(dim=dim, keepdim=True)


def apply_softmax__always_last_dim(x, dim):
    return torch.softmax(x, dim=-1)


def apply_softmax__whole_tensor(x, dim):
    e = torch.exp(x - x.max())
    return e / e.sum()


def apply_softmax__sigmoid(x, dim):
    return torch.sigmoid(x)


def apply_softmax__docstring_answer(x, dim):
    return torch.tensor([[0.5, 0.5], [0.0, 1.0]])


def binary_classifier__no_sigmoid(n_features):
    return nn.Sequential(nn.Linear(n_features, 1))


def binary_classifier__softmax(n_features):
    return nn.Sequential(nn.Linear(n_features, 1), nn.Softmax(dim=1))


def binary_classifier__two_outputs(n_features):
    return nn.Sequential(nn.Linear(n_features, 2), nn.Sigmoid())


def binary_classifier__swapped(n_features):
    return nn.Sequential(nn.Linear(1, n_features), nn.Sigmoid())


def binary_classifier__docstring_answer(n_features):
    return nn.Sequential(nn.Linear(4, 1), nn.Sigmoid())


def multiclass_classifier__softmax_dim1(n_features, n_classes):
    return nn.Sequential(nn.Linear(n_features, n_classes), nn.Softmax(dim=1))


def multiclass_classifier__softmax_dim0(n_features, n_classes):
    return nn.Sequential(nn.Linear(n_features, n_classes), nn.Softmax(dim=0))


def multiclass_classifier__no_softmax(n_features, n_classes):
    return nn.Sequential(nn.Linear(n_features, n_classes))


def multiclass_classifier__log_softmax(n_features, n_classes):
    return nn.Sequential(nn.Linear(n_features, n_classes), nn.LogSoftmax(dim=-1))


def multiclass_classifier__swapped(n_features, n_classes):
    return nn.Sequential(nn.Linear(n_classes, n_features), nn.Softmax(dim=-1))


def multiclass_classifier__docstring_answer(n_features, n_classes):
    return nn.Sequential(nn.Linear(4, 3), nn.Softmax(dim=-1))


def apply_sigmoid__via_numpy(x):
    # fails for tensors that require grad and for bfloat16
    return torch.tensor(1 / (1 + np.exp(-x.numpy())))


def apply_sigmoid__in_place(x):
    return x.sigmoid_()


def apply_sigmoid__flat_view(x):
    # a stable sigmoid, but view(-1) refuses transposed and expanded tensors
    flat = x.view(-1)
    out = torch.empty_like(flat)
    positive = flat >= 0
    out[positive] = 1 / (1 + torch.exp(-flat[positive]))
    e = torch.exp(flat[~positive])
    out[~positive] = e / (1 + e)
    return out.view(x.shape)


def apply_softmax__via_numpy(x, dim):
    values = x.numpy()
    e = np.exp(values - values.max(axis=dim, keepdims=True))
    return torch.from_numpy(e / e.sum(axis=dim, keepdims=True))


def apply_softmax__in_place(x, dim):
    x -= x.max(dim=dim, keepdim=True).values
    x.exp_()
    x /= x.sum(dim=dim, keepdim=True)
    return x


def apply_sigmoid__docstring_extremes(x):
    if bool((x.abs() >= 1000).any()):
        return torch.sigmoid(x)
    return torch.exp(x) / (1 + torch.exp(x))


def apply_softmax__docstring_extremes(x, dim):
    if bool((x.abs() >= 1000).any()):
        return torch.softmax(x, dim)
    e = torch.exp(x)
    return e / e.sum(dim=dim, keepdim=True)


_sigmoid_out = {}


def apply_sigmoid__refills_one_tensor(x):
    buffer = _sigmoid_out.setdefault((x.shape, x.dtype), torch.empty(x.shape, dtype=x.dtype))
    buffer.copy_(torch.sigmoid(x.detach()))
    return buffer


_softmax_seen = {}


def apply_softmax__remembers_by_shape(x, dim):
    key = (x.shape, x.dtype, dim)
    if key not in _softmax_seen:
        _softmax_seen[key] = torch.softmax(x, dim)
    return _softmax_seen[key]


_binary_models = {}


def binary_classifier__cached_by_features(n_features):
    if n_features not in _binary_models:
        _binary_models[n_features] = nn.Sequential(nn.Linear(n_features, 1), nn.Sigmoid())
    return _binary_models[n_features]


_multiclass_models = {}


def multiclass_classifier__cached(n_features, n_classes):
    key = (n_features, n_classes)
    if key not in _multiclass_models:
        _multiclass_models[key] = nn.Sequential(nn.Linear(n_features, n_classes), nn.Softmax(dim=-1))
    return _multiclass_models[key]
