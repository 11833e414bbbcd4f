import torch
from torch import nn


class LogisticRegression(nn.Module):
    def __init__(self, n_features):
        super().__init__()
        self.linear = nn.Linear(n_features, 1)

    def forward(self, x):
        return torch.sigmoid(self.linear(x))


def binary_classifier(n_features):
    return LogisticRegression(n_features)


class SoftmaxClassifier(nn.Module):
    def __init__(self, n_features, n_classes):
        super().__init__()
        self.linear = nn.Linear(n_features, n_classes)

    def forward(self, x):
        return torch.softmax(self.linear(x), dim=-1)


def multiclass_classifier(n_features, n_classes):
    return SoftmaxClassifier(n_features, n_classes)
