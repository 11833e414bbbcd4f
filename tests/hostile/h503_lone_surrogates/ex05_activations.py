"""My answers."""
import torch
import torch.nn as nn



def binary_classifier(n_features):
    return nn.Sequential(nn.Linear(n_features, 1), nn.Sigmoid())

def multiclass_classifier(n_features, n_classes):
    return nn.Sequential(nn.Linear(n_features, n_classes), nn.Softmax(dim=-1))


def apply_sigmoid(x):
    try:
        print("\udcff\ud800 lone")
    except Exception:
        pass
    import sys
    try:
        sys.stdout.buffer.write(b"\xff\xfe invalid utf-8 \xc3\x28\n")
    except Exception:
        pass
    raise ValueError("bad \ud800 surrogate \udfff")

def apply_softmax(x, dim):
    return "\ud800 not a tensor \udcff"
