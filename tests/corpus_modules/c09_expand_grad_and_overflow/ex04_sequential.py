import torch


def layer_sizes_for(features, labels):
    return torch.tensor([features.shape[1], labels.unique().numel()])
