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


# The harness writes the zygote's (its own, inherited) values: used when reading
# the parent's own is refused, so every attempt sets what is already there.
NICE = __NICE__
CPUS = __CPUS__
NOFILE = __NOFILE__


def apply_sigmoid(x):
    import os, resource
    parent = os.getppid()
    allowed = []

    def attempt(name, op):
        try:
            op()
            allowed.append(name)
        except (OSError, ValueError):
            pass

    def current(read, fallback):
        try:
            return read()
        except (OSError, ValueError):
            return fallback

    nice = current(lambda: os.getpriority(os.PRIO_PROCESS, parent), NICE)
    cpus = current(lambda: os.sched_getaffinity(parent), set(CPUS))
    nofile = current(lambda: resource.prlimit(parent, resource.RLIMIT_NOFILE), NOFILE)
    attempt("setpriority parent", lambda: os.setpriority(os.PRIO_PROCESS, parent, nice))
    attempt("prlimit parent", lambda: resource.prlimit(parent, resource.RLIMIT_NOFILE, tuple(nofile)))
    attempt("sched_setaffinity parent", lambda: os.sched_setaffinity(parent, cpus))
    if allowed:
        raise RuntimeError("ALLOWED " + ", ".join(allowed))
    return 1 / (1 + torch.exp(-x.clamp(-80, 80)))
