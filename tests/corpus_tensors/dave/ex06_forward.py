import torch


def forward_pass(model, x):
    with torch.inference_mode():
        return model(x)


def predict_class(model, x):
    model.eval()
    with torch.no_grad():
        logits = model(x)
    return torch.argmax(logits, dim=1)
