import itertools

from torch import nn


class MLP(nn.Module):
    def __init__(self, sizes):
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in itertools.pairwise(sizes))

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x


def stack_layers(sizes):
    if len(sizes) < 2:
        raise ValueError("need two sizes")
    return MLP(sizes)
