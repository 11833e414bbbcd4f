"""Every apply_softmax answer announces 120 MiB."""
import json
import struct
import sys

import torch
from torch import nn

_worker = sys.modules.get("grader.sandbox.worker")


def _send_once(make):
    """Replace the worker's answer writer for one answer: it sends the bytes make() returns instead."""
    real = _worker.send_frame

    def forged(sock, payload):
        _worker.send_frame = real
        sock.sendall(make())

    _worker.send_frame = forged


def _framed(payload):
    return struct.pack(">Q", len(payload)) + payload


def _answer(facts, value=b""):
    text = json.dumps(facts).encode()
    return struct.pack(">I", len(text)) + text + value


def apply_softmax(x, dim):
    _send_once(lambda: struct.pack(">Q", 120 * 1024 * 1024) + b"x" * 4096)
    return torch.softmax(x, dim=dim)


def apply_sigmoid(x):
    return torch.sigmoid(x)


def binary_classifier(n_features):
    return nn.Sequential(nn.Linear(n_features, 1), nn.Sigmoid())


def multiclass_classifier(n_features, n_classes):
    return nn.Sequential(nn.Linear(n_features, n_classes), nn.Softmax(dim=-1))
