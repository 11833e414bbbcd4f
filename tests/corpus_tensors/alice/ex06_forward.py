import torch


def forward_pass(model, x):
    with torch.no_grad():
        out = model(x)
    return out


def predict_class(model, x):
    _, index = torch.max(model(x), 1)
    return index
