"""The shared image metrics (metrics/): the Fréchet distance against closed forms and scipy's sqrtm, the
classifier's determinism and its safetensors cache, and FID-CNN / CAS on real and broken samples."""

import pickle

import numpy as np
import pytest
import torch

from transformer_catalog.errors import TcatError
from transformer_catalog.metrics.classifier import FashionCNN, Setting, cache_path, digest, load_or_train, train
from transformer_catalog.metrics.frechet import frechet_distance, frechet_features, gaussian
from transformer_catalog.metrics.images import Scorer, check_samples

TINY = Setting(n_train=2000, epochs=1)  # seconds to train; enough for determinism and cache checks
SMALL = Setting(n_train=10000, epochs=1)  # about 80% test accuracy: enough to tell real from noise


def test_frechet_distance_of_one_dimensional_and_diagonal_gaussians_is_closed_form():
    # 1-D: (m1 - m2)² + (s1 - s2)² with standard deviations s; diagonal: the sum over dimensions
    d = frechet_distance(torch.tensor([1.0]), torch.tensor([[4.0]]), torch.tensor([3.0]), torch.tensor([[9.0]]))
    assert d == pytest.approx((1 - 3) ** 2 + (2 - 3) ** 2)
    v1, v2 = torch.tensor([1.0, 4.0, 0.25]), torch.tensor([9.0, 1.0, 0.25])
    d = frechet_distance(torch.zeros(3), torch.diag(v1), torch.ones(3), torch.diag(v2))
    assert d == pytest.approx(3 + float((v1.sqrt() - v2.sqrt()).square().sum()))


def test_frechet_distance_matches_scipy_sqrtm_on_random_covariances():
    from scipy.linalg import sqrtm

    rng = np.random.default_rng(0)
    for dim in (2, 5, 12):
        a, b = rng.normal(size=(dim, dim)), rng.normal(size=(dim, dim))
        s1, s2 = a @ a.T + 0.1 * np.eye(dim), b @ b.T + 0.1 * np.eye(dim)
        mu1, mu2 = rng.normal(size=dim), rng.normal(size=dim)
        expected = np.sum((mu1 - mu2) ** 2) + np.trace(s1 + s2 - 2 * sqrtm(s1 @ s2).real)
        got = frechet_distance(*(torch.tensor(t) for t in (mu1, s1, mu2, s2)))
        assert got == pytest.approx(expected, rel=1e-8, abs=1e-8)


def test_identical_sets_are_at_zero_and_a_shift_moves_them_apart():
    x = torch.randn(500, 8, generator=torch.Generator().manual_seed(1))
    assert frechet_features(x, x.clone()) == pytest.approx(0, abs=1e-9)
    distances = [frechet_features(x, x + shift) for shift in (0.1, 0.5, 1.0)]
    assert distances == sorted(distances) and distances[0] > 0
    assert distances[-1] == pytest.approx(8.0, rel=1e-6)  # a shift of 1 in 8 dimensions: |mu1 - mu2|² = 8
    assert frechet_features(x, 2 * x) > frechet_features(x, 1.1 * x) > 0  # a spread changes it too
    with pytest.raises(ValueError, match="at least two feature rows"):
        gaussian(torch.zeros(1, 8))


def _close(a, b) -> bool:
    """Equal weights up to float round-off: CPU kernels may sum in another order from run to run (memory
    alignment picks the vector path), so bitwise equality is not promised, closeness is."""
    return all(torch.allclose(p, q, atol=1e-4) for p, q in zip(a.state_dict().values(), b.state_dict().values()))


@pytest.fixture(scope="module")
def fashion():
    from transformer_catalog.data.images import load_images

    return load_images("fashion-mnist")


def test_classifier_training_is_deterministic_and_leaves_the_global_rng_alone(fashion):
    x, y = fashion["train"]
    torch.manual_seed(123)
    before = torch.rand(3)
    torch.manual_seed(123)
    a = train(TINY, x, y)
    assert torch.equal(torch.rand(3), before)  # training forked the RNG
    b = train(TINY, x, y)
    assert _close(a, b)
    c = train(Setting(n_train=2000, epochs=1, seed=1), x, y)
    assert not torch.equal(a.head.weight, c.head.weight)


def test_cache_round_trip_is_safetensors_and_never_unpickles(fashion, tmp_path):
    x, y = fashion["train"]
    model, info = load_or_train(TINY, x, y, tmp_path)
    assert info["cached"] is False and info["written"] is True
    path = cache_path(tmp_path, digest(TINY, x, y))
    raw = path.read_bytes()
    header = int.from_bytes(raw[:8], "little")  # safetensors: a little-endian header length, then JSON
    assert (
        raw[8:9] == b"{" and b'"digest"' in raw[8 : 8 + header] and raw[:2] != b"PK" and raw[:1] != b"\x80"
    )  # not zip, not pickle
    again, info = load_or_train(TINY, x, y, tmp_path)
    assert info["cached"] is True
    assert all(torch.equal(p, q) for p, q in zip(model.state_dict().values(), again.state_dict().values()))
    # another setting or other data is another file: never another classifier's weights
    assert digest(Setting(n_train=2000, epochs=2), x, y) != digest(TINY, x, y)
    assert digest(TINY, x, y.roll(1)) != digest(TINY, x, y)
    # a pickle planted at the path is a miss: retrained and replaced, never loaded
    path.write_bytes(pickle.dumps({"head.weight": torch.zeros(10, 128)}))
    _, info = load_or_train(TINY, x, y, tmp_path)
    assert info["cached"] is False and path.read_bytes()[:8] == raw[:8]  # the same layout, rewritten
    retrained, info = load_or_train(TINY, x, y, tmp_path)
    assert info["cached"] is True and _close(model, retrained)  # the same weights up to float round-off
    # weights written for another key (a copied file) are a miss too
    other = cache_path(tmp_path, digest(Setting(n_train=2000, epochs=1, seed=5), x, y))
    other.write_bytes(raw)
    _, info = load_or_train(Setting(n_train=2000, epochs=1, seed=5), x, y, tmp_path)
    assert info["cached"] is False
    # no folder: trained, nothing written
    _, info = load_or_train(TINY, x, y, None)
    assert info == {"classifier_digest": info["classifier_digest"], "cached": False, "written": False}


@pytest.fixture(scope="module")
def scorer(fashion, tmp_path_factory):
    return Scorer(fashion, tmp_path_factory.mktemp("cache"), SMALL)


def test_real_images_score_high_cas_and_low_fid_and_noise_does_not(fashion, scorer):
    tx, ty = fashion["test"]
    real = scorer.score(tx[:3000], ty[:3000])
    assert real["cas"] >= 0.75 and real["n_samples"] == 3000
    ref = scorer.reference(n=3000)
    assert ref["cas"] >= 0.75 and ref["fid_cnn"] < 1.0  # real training images are close to the test set
    assert real["fid_cnn"] < 1.0
    wrong = scorer.score(tx[:3000], (ty[:3000] + 1) % 10)  # right images, wrong labels: CAS collapses
    assert wrong["cas"] < 0.1 and wrong["fid_cnn"] == pytest.approx(real["fid_cnn"])
    noise = scorer.score(torch.rand(3000, 1, 28, 28, generator=torch.Generator().manual_seed(0)), ty[:3000])
    assert noise["fid_cnn"] > 50 * max(ref["fid_cnn"], 0.1) and noise["cas"] < 0.3
    # one class's images only: the class is right (high CAS) but the set's statistics are far off
    trousers = tx[ty == 1][:500]
    mono = scorer.score(trousers, torch.ones(len(trousers), dtype=torch.long))
    assert mono["cas"] >= 0.75 and mono["fid_cnn"] > 10 * max(real["fid_cnn"], 0.1)


@pytest.mark.parametrize(
    "samples, labels, message",
    [
        (torch.zeros(4, 1, 32, 32), torch.zeros(4, dtype=torch.long), r"expected \(N, 1, 28, 28\)"),
        (torch.zeros(4, 1, 28, 28), torch.zeros(3, dtype=torch.long), "one per sample"),
        (torch.zeros(1, 1, 28, 28), torch.zeros(1, dtype=torch.long), "at least 2 samples"),
        (torch.zeros(4, 1, 28, 28), torch.full((4,), 10), "integers in 0..9"),
        (torch.zeros(4, 1, 28, 28), torch.zeros(4), "integers in 0..9"),
        (torch.full((4, 1, 28, 28), 2.0), torch.zeros(4, dtype=torch.long), r"in \[0, 1\]"),
        (torch.full((4, 1, 28, 28), float("nan")), torch.zeros(4, dtype=torch.long), "finite"),
        (np.zeros((4, 1, 28, 28)), torch.zeros(4, dtype=torch.long), "torch tensors"),
    ],
)
def test_bad_samples_are_one_line_errors(samples, labels, message):
    with pytest.raises(TcatError, match=message) as e:
        check_samples(samples, labels)
    assert "\n" not in str(e.value)


def test_three_dimensional_samples_gain_their_channel():
    x, y = check_samples(torch.rand(5, 28, 28), torch.arange(5))
    assert x.shape == (5, 1, 28, 28) and y.dtype == torch.long
    assert FashionCNN()(x).shape == (5, 10) and FashionCNN().features(x).shape == (5, 128)
