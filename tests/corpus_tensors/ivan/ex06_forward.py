import torch


def forward_pass(model, x):
    model.train()
    return model(x)


def predict_class(model, x):
    out = model(x)
    return torch.from_numpy(out.detach().numpy().argmax(axis=1))
