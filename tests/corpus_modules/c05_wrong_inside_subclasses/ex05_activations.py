from torch import nn


class LogisticRegression(nn.Sequential):
    def __init__(self, n_features):
        super().__init__(nn.Linear(n_features, 2), nn.Sigmoid())


def binary_classifier(n_features):
    return LogisticRegression(n_features)


class SoftmaxRegression(nn.Sequential):
    def __init__(self, n_features, n_classes):
        super().__init__(nn.Linear(n_features, n_classes), nn.Softmax(dim=1))


def multiclass_classifier(n_features, n_classes):
    return SoftmaxRegression(n_features, n_classes)
