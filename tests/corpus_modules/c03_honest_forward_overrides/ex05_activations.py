from torch import nn


class LogisticRegression(nn.Sequential):
    def __init__(self, n_features):
        super().__init__(nn.Linear(n_features, 1), nn.Sigmoid())

    def forward(self, x):
        for layer in self:
            x = layer(x)
        return x


def binary_classifier(n_features):
    return LogisticRegression(n_features)


class Classifier(nn.Sequential):
    def __init__(self, n_features, n_classes):
        super().__init__(nn.Linear(n_features, n_classes), nn.Softmax(dim=-1))

    def forward(self, x):
        return super().forward(x)


def multiclass_classifier(n_features, n_classes):
    return Classifier(n_features, n_classes)
