import torch

_buffers = {}


def forward_pass(model, x):
    with torch.no_grad():
        result = model(x)
    # reuse one output buffer per shape instead of allocating every time
    key = (tuple(result.shape), result.dtype)
    if key not in _buffers:
        _buffers[key] = torch.empty(result.shape, dtype=result.dtype)
    _buffers[key].copy_(result)
    return _buffers[key]


def predict_class(model, x):
    with torch.no_grad():
        out = model(x)
    best = out.max(dim=1, keepdim=True).values
    rows, cols = torch.nonzero(out == best, as_tuple=True)
    return cols
