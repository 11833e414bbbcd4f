import numpy as np


def make_tensor(data):
    return np.array(data)
