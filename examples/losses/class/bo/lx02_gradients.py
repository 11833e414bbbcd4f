"""Bo's gradients: marks the caller's x, and sums the squared errors."""


def gradient_of_square(x):
    x.requires_grad_(True)
    (x**2).sum().backward()
    return x.grad.clone()


def loss_gradients(model, x, y):
    model.zero_grad()
    ((model(x) - y) ** 2).sum().backward()
    return {name: p.grad for name, p in model.named_parameters()}
