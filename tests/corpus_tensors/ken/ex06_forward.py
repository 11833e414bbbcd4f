import torch

_output = torch.zeros(0)


def forward_pass(model, x):
    with torch.no_grad():
        result = model(x)
    # reuse one buffer instead of allocating every time
    _output.resize_(result.shape)
    _output.copy_(result)
    return _output.to(result.dtype)


def predict_class(model, x):
    with torch.no_grad():
        out = model(x)
    best = out.max(dim=1, keepdim=True).values
    rows, cols = torch.nonzero(out == best, as_tuple=True)
    return cols
