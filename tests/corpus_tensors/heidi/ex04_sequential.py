from torch import nn


def stack_layers(sizes):
    if len(sizes) < 2:
        raise ValueError("at least two sizes")
    return nn.Sequential(*(nn.Linear(i, o) for i, o in zip(sizes[:-1], sizes[1:])))


def stacked_param_count(sizes):
    return sum(i * o + o for i, o in zip(sizes[:-1], sizes[1:]))


def layer_sizes_for(features, labels):
    return len(features[0]), len(set(labels.tolist()))
