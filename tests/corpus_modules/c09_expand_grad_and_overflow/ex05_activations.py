import torch


def apply_sigmoid(x):
    return torch.sigmoid(x).requires_grad_()


def apply_softmax(x, dim):
    e = x.exp()
    return e / e.sum(dim, keepdim=True).expand_as(e)
