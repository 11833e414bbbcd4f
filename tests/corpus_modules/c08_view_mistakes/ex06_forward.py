import torch


def forward_pass(model, x):
    out = model(x)
    out.sum().backward()
    with torch.no_grad():
        for p in model.parameters():
            p -= 0.1 * p.grad
    return out.detach()


def predict_class(model, x):
    return torch.sort(model(x), dim=0, descending=True).indices[0]
