import torch


def forward_pass(model, x):
    with torch.no_grad():
        return model(x)


def predict_class(model, x):
    scores = model(x)
    return torch.sort(scores, dim=1, descending=True).indices[:, 0]
