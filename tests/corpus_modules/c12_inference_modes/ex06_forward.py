import torch


def forward_pass(model, x):
    model.train()  # make sure dropout/batchnorm behave like during training
    with torch.no_grad():
        return model(x).clone()


def predict_class(model, x):
    with torch.inference_mode():
        model.eval()
        return model(x).max(1)[1]
