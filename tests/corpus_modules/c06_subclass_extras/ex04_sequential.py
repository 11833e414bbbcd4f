import itertools

from torch import nn


class Stack(nn.Sequential):
    def __init__(self, sizes):
        super().__init__()
        for i, (a, b) in enumerate(itertools.pairwise(sizes)):
            self.add_module(f"fc{i}", nn.Linear(a, b))
        self.sizes = list(sizes)

    def describe(self):
        return " -> ".join(map(str, self.sizes))


def stack_layers(sizes):
    if len(sizes) < 2:
        raise ValueError(f"need at least two sizes, got {sizes}")
    return Stack(sizes)


def stacked_param_count(sizes):
    return sum(a * b + b for a, b in itertools.pairwise(sizes))


def layer_sizes_for(features, labels):
    return features.T.shape[0], len(labels.unique())
