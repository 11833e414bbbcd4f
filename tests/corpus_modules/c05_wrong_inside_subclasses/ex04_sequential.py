import itertools

from torch import nn


class Stack(nn.Sequential):
    def __init__(self, sizes):
        layers = []
        for a, b in itertools.pairwise(sizes):
            layers += [nn.Linear(a, b), nn.ReLU()]
        super().__init__(*layers[:-1])


def stack_layers(sizes):
    if len(sizes) < 2:
        raise ValueError("need two sizes")
    return Stack(sizes)
