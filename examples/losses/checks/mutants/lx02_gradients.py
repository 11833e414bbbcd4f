"""Known-wrong versions of lx02_gradients, each a plausible student mistake the checks must catch."""

import torch


def gradient_of_square__value_not_gradient(x):
    return x**2


def gradient_of_square__mean_not_sum(x):
    t = x.detach().clone().requires_grad_(True)
    (t**2).mean().backward()
    return t.grad


def gradient_of_square__marks_input(x):
    x.requires_grad_(True)
    (x**2).sum().backward()
    return x.grad.detach().clone()


def gradient_of_square__keeps_graph(x):
    t = x.detach().clone().requires_grad_(True)
    (grad,) = torch.autograd.grad((t**2).sum(), t, create_graph=True)
    return grad


def gradient_of_square__backward_twice(x):
    t = x.detach().clone().requires_grad_(True)
    (t**2).sum().backward()
    (t**2).sum().backward()
    return t.grad


def loss_gradients__sum_reduction(model, x, y):
    model.zero_grad()
    ((model(x) - y) ** 2).sum().backward()
    return {name: p.grad for name, p in model.named_parameters()}


def loss_gradients__returns_parameters(model, x, y):
    return {name: p.detach().clone() for name, p in model.named_parameters()}


def loss_gradients__l1_loss(model, x, y):
    model.zero_grad()
    (model(x) - y).abs().mean().backward()
    return {name: p.grad for name, p in model.named_parameters()}


def loss_gradients__weights_only(model, x, y):
    model.zero_grad()
    ((model(x) - y) ** 2).mean().backward()
    return {name: p.grad for name, p in model.named_parameters() if name.endswith("weight")}


def loss_gradients__list_not_dict(model, x, y):
    model.zero_grad()
    ((model(x) - y) ** 2).mean().backward()
    return [p.grad for p in model.parameters()]


def loss_gradients__takes_a_step(model, x, y):
    model.zero_grad()
    ((model(x) - y) ** 2).mean().backward()
    torch.optim.SGD(model.parameters(), lr=0.1).step()
    return {name: p.grad for name, p in model.named_parameters()}
