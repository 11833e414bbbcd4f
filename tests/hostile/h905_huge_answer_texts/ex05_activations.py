"""apply_sigmoid's answers are forged: raised, with a 400 KB message, a 100 KB type name and 100,000 characters of escapes as traceback."""
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


def apply_sigmoid(x):
    facts = {
        "status": "raised",
        "message": "<b>m</b>" * 50_000,
        "type": "T" * 100_000,
        "bases": ["ValueError"] * 10_000,
        "traceback": "\x1b[2J" * 20_000,
        "output": "o" * 60_000,
    }
    _send_once(lambda: _framed(_answer(facts)))
    return torch.sigmoid(x)


def apply_softmax(x, dim):
    return torch.softmax(x, dim=dim)


def binary_classifier(n_features):
    return nn.Sequential(nn.Linear(n_features, 1), nn.Sigmoid())


def multiclass_classifier(n_features, n_classes):
    return nn.Sequential(nn.Linear(n_features, n_classes), nn.Softmax(dim=-1))
