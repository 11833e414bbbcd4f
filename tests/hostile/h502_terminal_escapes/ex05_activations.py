"""My answers."""
import torch
import torch.nn as nn



def apply_softmax(x, dim):
    return nn.functional.softmax(x, dim=dim)

def binary_classifier(n_features):
    return nn.Sequential(nn.Linear(n_features, 1), nn.Sigmoid())

def multiclass_classifier(n_features, n_classes):
    return nn.Sequential(nn.Linear(n_features, n_classes), nn.Softmax(dim=-1))


MARK = '<script>alert(1)</script><img src=x onerror=alert(2)>\x1b[2J\x1b[31mRED\x1b]8;;https://evil.example/\x07click\x1b]8;;\x07\u202eevil\u202c\u2066x\u2069\x00NUL\x08\x7f'
def apply_sigmoid(x):
    import sys
    print(MARK)
    sys.stderr.write(MARK + "\r\x1b[1A\x1b[2K")
    raise ValueError(MARK)
