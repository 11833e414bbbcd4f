"""What an assignment knows of its exercises: here, each function's contract, read from its stub."""

from __future__ import annotations

from grader.assignment import Assignment


def test_the_contract_is_the_summary_and_the_contract_paragraph(bundled: Assignment) -> None:
    assert bundled.exercise("ex03_linear").contract("make_linear") == (
        "Return a linear layer mapping n_features inputs to n_classes outputs; "
        "an nn.Linear with in_features == n_features, out_features == n_classes, and a bias."
    )
    contract = bundled.exercise("ex01_tensors").contract("tensor_dtype")
    assert contract.startswith("Return the dtype of tensor t; return that torch.dtype object itself")


def test_a_docstring_without_a_contract_paragraph_gives_its_summary(tiny: Assignment) -> None:
    exercise = tiny.exercise("ex_tiny")
    assert exercise.contract("double") == "Return 2 * x for a tensor x."
    assert exercise.contract("no_such_function") == ""
