"""Graph convolution (Kipf & Welling 2017) written out: each layer mixes every node's features with
its neighbours' through the renormalised adjacency A_hat = D^-1/2 (A + I) D^-1/2,

    H' = relu(A_hat H W)       (the last layer without relu, into a softmax over classes)

so a two-layer GCN's prediction for a node depends on everything within two hops. On Zachary's
karate club with one-hot node features (no information but identity), one labelled node per faction
is enough: labels spread along the edges. An MLP on the same features sees no edges and cannot.
"""

from __future__ import annotations

import torch


def karate() -> tuple[torch.Tensor, torch.Tensor]:
    """(adjacency (34, 34), faction per node: 0 = Mr. Hi, 1 = Officer), from networkx's copy of
    Zachary (1977), whose 'club' attribute records which club each member joined after the split."""
    import networkx as nx

    g = nx.karate_club_graph()
    nodes = sorted(g.nodes)
    a = torch.tensor(nx.to_numpy_array(g, nodelist=nodes, weight=None), dtype=torch.float32)
    y = torch.tensor([int(g.nodes[v]["club"] != "Mr. Hi") for v in nodes])
    return a, y


def normalised_adjacency(a: torch.Tensor) -> torch.Tensor:
    """A_hat = D^-1/2 (A + I) D^-1/2: self-loops keep a node's own features; the symmetric scaling keeps
    repeated propagation from growing or shrinking features with the degree."""
    a = a + torch.eye(len(a))
    d = a.sum(1).rsqrt()
    return d[:, None] * a * d[None, :]


class GCN(torch.nn.Module):
    """Two graph convolutions; `a_hat=None` gives the control: the same layers with no propagation (an MLP)."""

    def __init__(self, n_in: int, hidden: int, n_out: int):
        super().__init__()
        self.w1 = torch.nn.Parameter(torch.empty(n_in, hidden))
        self.w2 = torch.nn.Parameter(torch.empty(hidden, n_out))
        for w in (self.w1, self.w2):
            torch.nn.init.xavier_uniform_(w)  # Glorot, as in the paper

    def forward(self, x: torch.Tensor, a_hat: torch.Tensor | None) -> torch.Tensor:
        mix = (lambda h: a_hat @ h) if a_hat is not None else (lambda h: h)  # noqa: E731
        h = torch.relu(mix(x @ self.w1))
        return mix(h @ self.w2)


def train_nodes(
    a: torch.Tensor | None, y: torch.Tensor, labelled: list[int], epochs: int, seed: int, hidden=16, lr=0.01
):
    """Train on the labelled nodes only (cross-entropy, Adam, weight decay as in the paper); returns the
    predicted class of every node. `a=None` trains the control, which never sees an edge."""
    torch.manual_seed(seed)
    x = torch.eye(len(y))  # featureless graph: one-hot identity features, the paper's karate setting
    a_hat = normalised_adjacency(a) if a is not None else None
    model = GCN(len(y), hidden, int(y.max()) + 1)
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=5e-4)
    idx = torch.tensor(labelled)
    for _ in range(epochs):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x, a_hat)[idx], y[idx])
        loss.backward()
        opt.step()
    with torch.no_grad():
        return model(x, a_hat).argmax(1)


def accuracy_unlabelled(pred: torch.Tensor, y: torch.Tensor, labelled: list[int]) -> float:
    mask = torch.ones(len(y), dtype=torch.bool)
    mask[labelled] = False
    return float((pred[mask] == y[mask]).float().mean())
