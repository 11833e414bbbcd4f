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


# The test harness writes the path of a folder it created (outside every scratch
# folder) over __CANARY__; the grader's own scratch root, one level up from this
# worker's folder, exists on every machine too. Each op that goes through is
# reported; chmod and utime set what is already there.
CANARY = "__CANARY__"


def apply_sigmoid(x):
    import os
    allowed = []
    root = os.path.dirname(os.getcwd())
    for folder in (CANARY, root):
        try:
            info = os.stat(folder)
        except OSError:  # not even reachable: nothing to attack there
            continue
        ops = [lambda: os.makedirs(os.path.join(folder, "sub"), exist_ok=True),
               lambda: open(os.path.join(folder, "written.txt"), "w").write("LEAK"),
               lambda: os.rename(".output", os.path.join(folder, "moved")),
               lambda: os.mkfifo(os.path.join(folder, "fifo")),
               lambda: os.utime(folder, ns=(info.st_atime_ns, info.st_mtime_ns)),
               lambda: os.chmod(folder, info.st_mode & 0o7777)]
        for i, op in enumerate(ops):
            try:
                op()
                allowed.append(f"{folder}:{i}")
            except OSError:
                pass
    if allowed:
        raise RuntimeError("ALLOWED canary ops " + ",".join(allowed))
    return 1 / (1 + torch.exp(-x.clamp(-80, 80)))
