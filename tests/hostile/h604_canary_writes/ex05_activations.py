"""My answers."""
import torch
import torch.nn as nn



def apply_sigmoid(x):
    return 1 / (1 + torch.exp(-x.clamp(-80, 80)))

def apply_softmax(x, dim):
    return nn.functional.softmax(x, dim=dim)

def binary_classifier(n_features):
    return nn.Sequential(nn.Linear(n_features, 1), nn.Sigmoid())

def multiclass_classifier(n_features, n_classes):
    return nn.Sequential(nn.Linear(n_features, n_classes), nn.Softmax(dim=-1))


def apply_sigmoid(x):
    import os
    allowed = []
    ops = [lambda: os.makedirs("/tmp/grader-attack-canary/sub", exist_ok=True),
           lambda: open("/tmp/grader-attack-canary/written.txt", "w").write("LEAK"),
           lambda: os.rename(".output", "/tmp/grader-attack-canary/moved"),
           lambda: os.mkfifo("/tmp/grader-attack-canary/fifo"),
           lambda: os.utime("/tmp/grader-attack-canary"),
           lambda: os.chmod("/tmp/grader-attack-canary", 0o777)]
    for i, op in enumerate(ops):
        try:
            op()
            allowed.append(str(i))
        except Exception:
            pass
    if allowed:
        raise RuntimeError("ALLOWED canary ops " + ",".join(allowed))
    return 1 / (1 + torch.exp(-x.clamp(-80, 80)))
