"""The fits of Hoffmann et al. 2022 (Chinchilla), on (N, D, loss) runs: IsoFLOP parabolas in log N,
power laws of the compute-optimal N and D in C, and the parametric law L(N, D) = E + A/N^alpha + B/D^beta
fitted with L-BFGS on a Huber loss of log-space residuals (the paper's approach 3), with bootstrap
intervals over runs. Plain numpy, and torch for L-BFGS (scipy is not a dependency)."""

from __future__ import annotations

import itertools
import math

import numpy as np

# Published values, beside which ours are reported (Kaplan et al. 2020, Hoffmann et al. 2022).
KAPLAN = {"alpha_N": 0.076, "alpha_D": 0.095, "a": 0.73, "b": 0.27}
CHINCHILLA = {"a": 0.50, "b": 0.50, "tokens_per_param": 20.0, "alpha": 0.34, "beta": 0.28, "E": 1.69}
HUBER_DELTA = 1e-3  # the paper's delta


def parabola(log_n, loss) -> tuple[float, float, float]:
    """Least-squares loss = c2 (log N)^2 + c1 log N + c0; returns (c2, c1, c0)."""
    c2, c1, c0 = np.polyfit(np.asarray(log_n, float), np.asarray(loss, float), 2)
    return float(c2), float(c1), float(c0)


def parabola_min(log_n, loss) -> float | None:
    """N at the parabola's minimum (None where the fit opens downward: no minimum)."""
    c2, c1, _ = parabola(log_n, loss)
    return math.exp(-c1 / (2 * c2)) if c2 > 0 else None


def power_law(x, y) -> tuple[float, float]:
    """y = k x^e by least squares in log-log; returns (e, k)."""
    e, log_k = np.polyfit(np.log(np.asarray(x, float)), np.log(np.asarray(y, float)), 1)
    return float(e), float(math.exp(log_k))


def isoflop(runs: list[dict]) -> dict:
    """Per budget: N_opt from the parabola; then N_opt, D_opt = C / (6 N_opt) against C as power laws.
    `runs`: dicts with budget, n, d, loss. Budgets with fewer than 3 sizes, or whose parabola has no
    minimum inside the sizes tried, are left out (the latter listed)."""
    by_budget: dict[float, list[dict]] = {}
    for r in runs:
        by_budget.setdefault(r["budget"], []).append(r)
    optima, edge = [], []
    for c in sorted(by_budget):
        group = by_budget[c]
        if len({r["n"] for r in group}) < 3:
            continue
        n_opt = parabola_min([math.log(r["n"]) for r in group], [r["loss"] for r in group])
        if n_opt is None or not min(r["n"] for r in group) <= n_opt <= max(r["n"] for r in group):
            edge.append(c)  # a minimum outside the sizes tried is an extrapolation: not an optimum found
            continue
        optima.append({"budget": c, "n_opt": n_opt, "d_opt": c / (6 * n_opt)})
    out = {"optima": optima, "no_interior_minimum": edge}
    if len(optima) >= 2:
        cs = [o["budget"] for o in optima]
        out["a"], out["k_n"] = power_law(cs, [o["n_opt"] for o in optima])
        out["b"], out["k_d"] = power_law(cs, [o["d_opt"] for o in optima])
    return out


def _huber(r, delta: float):
    import torch

    a = r.abs()
    return torch.where(a <= delta, 0.5 * r**2, delta * (a - 0.5 * delta))


def _fit_one(log_n, log_d, log_l, start, delta: float, iters: int = 200):
    """One L-BFGS fit of (a, b, e, alpha, beta) from `start`; returns (objective, params)."""
    import torch

    theta = torch.tensor(start, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([theta], lr=1.0, max_iter=iters, line_search_fn="strong_wolfe", tolerance_grad=1e-12)

    def objective():
        a, b, e, alpha, beta = theta
        pred = torch.logsumexp(torch.stack([a - alpha * log_n, b - beta * log_d, e.expand_as(log_n)]), dim=0)
        return _huber(pred - log_l, delta).sum()

    def closure():
        opt.zero_grad()
        value = objective()
        value.backward()
        return value

    try:
        opt.step(closure)
    except RuntimeError:  # a start that diverges to non-finite values: not a candidate
        return math.inf, None
    with torch.no_grad():
        value = float(objective())
    params = theta.detach().tolist()
    return (value, params) if math.isfinite(value) and all(map(math.isfinite, params)) else (math.inf, None)


START_GRID = {  # the paper's grid of initialisations, coarsened (it fits once per bootstrap sample too)
    "a": (0.0, 10.0, 20.0),
    "b": (0.0, 10.0, 20.0),
    "e": (-1.0, 0.0, 1.5),
    "alpha": (0.1, 0.5, 1.0),
    "beta": (0.1, 0.5, 1.0),
}


def start_grid(points: int = 3) -> list[tuple]:
    """The initialisations: `points` (2 or 3) values per parameter from START_GRID (2: its ends)."""
    pick = (lambda v: v) if points >= 3 else (lambda v: (v[0], v[-1]))
    return list(itertools.product(*(pick(v) for v in START_GRID.values())))


def fit_law(n, d, loss, starts=None, delta: float = HUBER_DELTA) -> dict:
    """L(N, D) = E + A/N^alpha + B/D^beta by minimising the Huber loss of
    log L - LSE(a - alpha log N, b - beta log D, e) over `starts` (default START_GRID); the best wins."""
    import torch

    log_n, log_d, log_l = (torch.tensor(np.log(np.asarray(x, float)), dtype=torch.float64) for x in (n, d, loss))
    starts = starts if starts is not None else start_grid()
    best = (math.inf, None)
    for start in starts:
        best = min(best, _fit_one(log_n, log_d, log_l, start, delta), key=lambda t: t[0])
    if best[1] is None:
        return {}
    a, b, e, alpha, beta = best[1]
    law = {"E": math.exp(e), "A": math.exp(a), "B": math.exp(b), "alpha": alpha, "beta": beta, "objective": best[0]}
    pred = np.log(predict(law, n, d))
    ll = np.log(np.asarray(loss, float))
    law["r2_log"] = float(1 - ((ll - pred) ** 2).sum() / max(((ll - ll.mean()) ** 2).sum(), 1e-300))
    law["start"] = best[1]
    return law


def predict(law: dict, n, d):
    n, d = np.asarray(n, float), np.asarray(d, float)
    with np.errstate(over="ignore", divide="ignore"):  # a wild bootstrap fit may overflow: it scores badly
        return law["E"] + law["A"] / n ** law["alpha"] + law["B"] / d ** law["beta"]


def law_optimum(law: dict) -> dict:
    """The compute-optimal allocation the law implies (the paper's eq. 4): N_opt = G (C/6)^(beta/(alpha+beta)),
    D_opt = (C/6)^(alpha/(alpha+beta)) / G, G = (alpha A / (beta B))^(1/(alpha+beta))."""
    s = law["alpha"] + law["beta"]
    g = (law["alpha"] * law["A"] / (law["beta"] * law["B"])) ** (1 / s)
    return {"a": law["beta"] / s, "b": law["alpha"] / s, "G": g}


def law_tokens_per_param(law: dict, c: float) -> float:
    opt = law_optimum(law)
    n = opt["G"] * (c / 6) ** opt["a"]
    return (c / 6 / n) / n


def interval(values, level: float = 0.95) -> list[float] | None:
    v = np.asarray([x for x in values if x is not None and math.isfinite(x)], float)
    if len(v) == 0:
        return None
    lo, hi = np.percentile(v, [50 * (1 - level), 50 * (1 + level)])
    return [float(lo), float(hi)]


# Few starts per control fit (one per shuffle); the real data's R^2 is compared at the same starts (fair).
CONTROL_STARTS = [(10.0, 10.0, 0.5, 0.5, 0.5), (0.0, 0.0, 0.0, 0.3, 0.3)]


def bootstrap(runs: list[dict], samples: int, seed: int = 0, law: dict | None = None) -> dict:
    """Refit on `samples` resamplings of the runs (with replacement, within each budget so every
    IsoFLOP curve keeps its runs' count); 95% percentile intervals of every fitted number."""
    rng = np.random.default_rng(seed)
    by_budget: dict[float, list[dict]] = {}
    for r in runs:
        by_budget.setdefault(r["budget"], []).append(r)
    starts = [tuple(law["start"])] if law and law.get("start") else []
    starts += CONTROL_STARTS[: 2 - len(starts)]  # the point fit's winner and one other: each start is 200 fits
    draws: dict[str, list] = {k: [] for k in ("a", "b", "alpha", "beta", "E", "A", "B", "law_a", "law_b")}
    for _ in range(samples):
        sample = [g[i] for g in by_budget.values() for i in rng.integers(0, len(g), len(g))]
        iso = isoflop(sample)
        draws["a"].append(iso.get("a"))
        draws["b"].append(iso.get("b"))
        fit = fit_law([r["n"] for r in sample], [r["d"] for r in sample], [r["loss"] for r in sample], starts)
        for k in ("alpha", "beta", "E", "A", "B"):
            draws[k].append(fit.get(k))
        opt = law_optimum(fit) if fit else {}
        draws["law_a"].append(opt.get("a"))
        draws["law_b"].append(opt.get("b"))
    return {k: interval(v) for k, v in draws.items()} | {"samples": samples}


def shuffled_r2(runs: list[dict], samples: int, seed: int = 0) -> list[float]:
    """The control: the law fitted to the same losses assigned to the (N, D) pairs at random; how much
    of log loss's variance a 5-parameter law explains on structureless data of this size."""
    rng = np.random.default_rng(seed + 1)
    n, d, loss = ([r[k] for r in runs] for k in ("n", "d", "loss"))
    starts = CONTROL_STARTS
    out = []
    for _ in range(samples):
        fit = fit_law(n, d, list(rng.permutation(loss)), starts)
        out.append(fit.get("r2_log", 0.0) if fit else 0.0)
    return out


__all__ = [
    "CHINCHILLA",
    "CONTROL_STARTS",
    "KAPLAN",
    "bootstrap",
    "fit_law",
    "interval",
    "isoflop",
    "law_optimum",
    "law_tokens_per_param",
    "parabola",
    "parabola_min",
    "power_law",
    "predict",
    "shuffled_r2",
    "start_grid",
]
