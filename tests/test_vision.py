"""Image classification on real images (scikit-learn's digits; Fashion-MNIST where the Debian
package is installed): a ViT built by the core and a small CNN both learn; bad input is named."""

import pytest
import torch

from transformer_catalog.apps.vision import make_classifier, train_classifier
from transformer_catalog.data.images import load_images
from transformer_catalog.errors import TcatError

pytest.importorskip("sklearn", reason="the digits images come with scikit-learn")


@pytest.mark.parametrize("kind,floor", [("vit", 0.85), ("cnn", 0.9)])
def test_classifiers_learn_digits(kind, floor):
    torch.manual_seed(0)
    data = load_images("digits")
    model = make_classifier(kind, 8, 10)
    before = (model(data["test"][0]).argmax(-1) == data["test"][1]).float().mean().item()
    result = train_classifier(model, data, epochs=12, batch=64, lr=3e-3, progress=False)
    assert before < 0.3 and result.test_accuracy > floor, (before, result)


def test_idx_reader_matches_fashion_mnist_shapes():
    try:
        data = load_images("fashion-mnist")
    except TcatError as e:
        pytest.skip(str(e))
    x, y = data["train"]
    assert x.shape == (60000, 1, 28, 28) and y.shape == (60000,) and 0 <= float(x.min()) and float(x.max()) <= 1
    assert torch.bincount(y).tolist() == [6000] * 10 and data["test"][0].shape == (10000, 1, 28, 28)


def test_unknown_image_dataset_and_model():
    with pytest.raises(TcatError, match="unknown image dataset 'cifar'"):
        load_images("cifar")
    with pytest.raises(TcatError, match="unknown vision model 'resnet'"):
        make_classifier("resnet", 28, 10)
