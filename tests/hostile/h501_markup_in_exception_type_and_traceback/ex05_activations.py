"""My answers."""
import torch
import torch.nn as nn



def apply_softmax(x, dim):
    return nn.functional.softmax(x, dim=dim)

def binary_classifier(n_features):
    return nn.Sequential(nn.Linear(n_features, 1), nn.Sigmoid())

def multiclass_classifier(n_features, n_classes):
    return nn.Sequential(nn.Linear(n_features, n_classes), nn.Softmax(dim=-1))


class Boom(Exception):
    pass
Boom.__qualname__ = "<script>alert('type')</script>"
Boom.__name__ = "<img src=x onerror=alert('name')>"

def apply_sigmoid(x):
    print("<script>alert('out')</script><img src=x onerror=alert(3)>")
    raise Boom("<script>alert('msg')</script><img src=x onerror=alert(4)>")  # <script>alert('src')</script>
