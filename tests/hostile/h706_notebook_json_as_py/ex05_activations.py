{
 "cells": [
  {
   "cell_type": "code",
   "execution_count": null,
   "metadata": {},
   "outputs": [],
   "source": [
    "\"\"\"My answers.\"\"\"\nimport torch\nimport torch.nn as nn\n\n",
    "def apply_sigmoid(x):\n    return 1 / (1 + torch.exp(-x.clamp(-80, 80)))\n\n",
    "def apply_softmax(x, dim):\n    return nn.functional.softmax(x, dim=dim)\n\n",
    "def binary_classifier(n_features):\n    return nn.Sequential(nn.Linear(n_features, 1), nn.Sigmoid())\n\n",
    "def multiclass_classifier(n_features, n_classes):\n    return nn.Sequential(nn.Linear(n_features, n_classes), nn.Softmax(dim=-1))\n\n"
   ]
  }
 ],
 "metadata": {
  "kernelspec": {
   "name": "python3"
  }
 },
 "nbformat": 4,
 "nbformat_minor": 5
}