"""Known-wrong versions of lx03_step, each a plausible student mistake the checks must catch."""

import copy

import torch


def _grads(model, x, y, reduce="mean"):
    model.zero_grad()
    errors = (model(x) - y) ** 2
    (errors.mean() if reduce == "mean" else errors.sum()).backward()


def sgd_step__gradient_ascent(model, x, y, lr):
    _grads(model, x, y)
    with torch.no_grad():
        for p in model.parameters():
            p += lr * p.grad
    return model


def sgd_step__ignores_lr(model, x, y, lr):
    _grads(model, x, y)
    with torch.no_grad():
        for p in model.parameters():
            p -= p.grad
    return model


def sgd_step__no_update(model, x, y, lr):
    _grads(model, x, y)
    return model


def sgd_step__sum_loss(model, x, y, lr):
    _grads(model, x, y, reduce="sum")
    with torch.no_grad():
        for p in model.parameters():
            p -= lr * p.grad
    return model


def sgd_step__two_steps(model, x, y, lr):
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    for _ in range(2):
        optimizer.zero_grad()
        ((model(x) - y) ** 2).mean().backward()
        optimizer.step()
    return model


def sgd_step__updates_a_copy(model, x, y, lr):
    model = copy.deepcopy(model)
    _grads(model, x, y)
    with torch.no_grad():
        for p in model.parameters():
            p -= lr * p.grad
    return model


def sgd_step__returns_nothing(model, x, y, lr):
    _grads(model, x, y)
    with torch.no_grad():
        for p in model.parameters():
            p -= lr * p.grad
