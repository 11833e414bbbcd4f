import torch.nn.functional as F
from torch import nn


class Dense(nn.Linear):
    def forward(self, x):
        return F.linear(x, self.weight, self.bias)


def make_linear(n_features, n_classes):
    return Dense(n_features, n_classes)
