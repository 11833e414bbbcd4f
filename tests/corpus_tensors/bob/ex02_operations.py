def add(a, b):
    return a.add(b)


def multiply(a, b):
    return a.multiply(b)


def linear_forward(x, weight, bias):
    return x @ weight.T + bias
