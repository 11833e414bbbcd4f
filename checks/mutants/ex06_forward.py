"""Known-wrong versions of ex06_forward, each a plausible student mistake the checks must catch."""

import torch


def forward_pass__training_step(model, x):
    out = model(x)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    out.sum().backward()
    optimizer.step()
    return out.detach()


def forward_pass__first_layer_only(model, x):
    return model[0](x)


def forward_pass__edits_weights(model, x):
    out = model(x)
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
    return out


def forward_pass__returns_input(model, x):
    return x


def predict_class__argmax_dim0(model, x):
    return model(x).argmax(dim=0)


def predict_class__max_values(model, x):
    return model(x).max(dim=1).values


def predict_class__keepdim(model, x):
    return model(x).argmax(dim=1, keepdim=True)


def predict_class__flat_argmax(model, x):
    return model(x).argmax()


def predict_class__float(model, x):
    return model(x).argmax(dim=1).float()


def predict_class__docstring_answer(model, x):
    return torch.tensor([0, 0])


def forward_pass__casts_to_float32(model, x):
    return model(x.float())


def forward_pass__normalises_x_in_place(model, x):
    x -= x.mean(dim=0, keepdim=True)
    return model(x)


def forward_pass__via_numpy_input(model, x):
    return model(torch.from_numpy(x.numpy()))


def predict_class__int32(model, x):
    return model(x).argmax(dim=1).int()


def predict_class__casts_to_float32(model, x):
    return model(x.float()).argmax(dim=1)


def forward_pass__freezes_model(model, x):
    # "inference only": switches off gradients for good, in the caller's model
    model.requires_grad_(False)
    return model(x)


_forward_out = {}


def forward_pass__refills_one_tensor(model, x):
    with torch.no_grad():
        out = model(x)
    buffer = _forward_out.setdefault((out.shape, out.dtype), torch.empty(out.shape, dtype=out.dtype))
    buffer.copy_(out)
    return buffer


def predict_class__every_maximum(model, x):
    out = model(x)
    return (out == out.max(dim=1, keepdim=True).values).nonzero()[:, 1]


_predicted = {}


def predict_class__remembers_by_shape(model, x):
    # predictions cached per model and batch shape
    key = (id(model), tuple(x.shape))
    if key not in _predicted:
        _predicted[key] = model(x).argmax(dim=1)
    return _predicted[key]


def predict_class__freezes_model(model, x):
    for p in model.parameters():
        p.requires_grad = False  # no gradients needed to predict
    return model(x).argmax(dim=1)
