import torch


def forward_pass(model, x):
    return model(x.float())


def predict_class(model, x):
    with torch.no_grad():
        scores = model(x)
    return scores.argmax(1).to(torch.int32)
