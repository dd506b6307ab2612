"""Rosenblatt's perceptron (1958) and its limit (Minsky & Papert 1969).

A threshold unit y = [w.x + b > 0] trained by the perceptron rule: after each example, w += lr (t - y) x
and b += lr (t - y). The convergence theorem (Novikoff 1962) says the rule stops making mistakes after
finitely many updates when a separating hyperplane exists; XOR has none, so on XOR the rule cycles
forever and no weights it visits classify more than 3 of the 4 points.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..errors import TcatError

XOR_X = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
XOR_Y = torch.tensor([0.0, 1.0, 1.0, 0.0])


@dataclass
class PerceptronRun:
    w: torch.Tensor
    b: float
    mistakes_per_epoch: list[int]  # updates made in each pass over the data
    accuracy_per_epoch: list[float]  # accuracy of the weights at the end of each pass
    converged: bool  # a pass without a single mistake happened

    @property
    def best_accuracy(self) -> float:
        """The best accuracy any end-of-pass weights reached (XOR: never above 3/4)."""
        return max(self.accuracy_per_epoch)


def predict(w: torch.Tensor, b: float, x: torch.Tensor) -> torch.Tensor:
    return (x @ w + b > 0).float()


def train_perceptron(x: torch.Tensor, t: torch.Tensor, epochs: int, seed: int, lr: float = 1.0) -> PerceptronRun:
    """The perceptron rule, one example at a time in a shuffled order per pass; stops after a clean pass."""
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(x.shape[1], generator=g, dtype=x.dtype) * 0.1  # random start: seeds differ
    b = 0.0
    mistakes, accuracy, converged = [], [], False
    for _ in range(epochs):
        n = 0
        for i in torch.randperm(len(x), generator=g).tolist():
            err = float(t[i]) - float(x[i] @ w + b > 0)
            if err != 0.0:  # the rule only moves on a mistake
                w = w + lr * err * x[i]
                b += lr * err
                n += 1
        mistakes.append(n)
        accuracy.append(float((predict(w, b, x) == t).float().mean()))
        if n == 0:
            converged = True
            break
    return PerceptronRun(w, b, mistakes, accuracy, converged)


def iris_setosa() -> tuple[torch.Tensor, torch.Tensor]:
    """scikit-learn's bundled iris (150 flowers, 4 measurements in cm): setosa (1) against the rest (0)."""
    try:
        from sklearn.datasets import load_iris
    except ImportError:
        raise TcatError("the perceptron row reads scikit-learn's iris: pip install scikit-learn") from None
    iris = load_iris()
    return torch.tensor(iris.data, dtype=torch.float64), torch.tensor(iris.target == 0, dtype=torch.float64)
