def forward_pass(model, x):
    return model.forward(x)


def predict_class(model, x):
    return model(x).max(dim=1).indices
