"""minigan/metrics/classifier.py: the evaluation CNN, its training, cache and outputs."""
import numpy as np
import pytest

import minigan as mg
from minigan.data import ImageDataset, load_digits
from minigan.metrics.classifier import (Classifier, ClassifierConfig, FeatureClassifier,
                                        cache_path, train_classifier)

TINY = ClassifierConfig(channels=(4, 8), feature_dim=16, epochs=1)


@pytest.fixture(scope="module")
def digits8():
    return load_digits(8)


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("classifiers")


@pytest.fixture(scope="module")
def trained(digits8, cache_dir):
    """The default config on the native 8 x 8 digits (a few seconds of CPU), cached."""
    return train_classifier(digits8, cache_dir=cache_dir)


def test_default_config_reaches_95_percent_on_held_out_digits(trained):
    assert isinstance(trained, Classifier)
    assert trained.test_accuracy >= 0.95


def test_outputs_have_the_documented_shapes_and_agree(trained, digits8):
    images = digits8.images[:37]
    features = trained.features(images, batch_size=10)
    probabilities = trained.predict_proba(mg.tensor(images))
    assert features.shape == (37, 64) and features.dtype == np.float64
    assert (features >= 0).all()                                      # after a ReLU
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_array_equal(trained.predict(images), probabilities.argmax(axis=1))


def test_batch_size_does_not_change_the_features(trained, digits8):
    images = digits8.images[:30]
    np.testing.assert_allclose(trained.features(images, batch_size=7),
                               trained.features(images), rtol=1e-6, atol=1e-6)


def test_probabilities_are_the_softmax_of_the_linear_head_on_the_features(trained, digits8):
    images = digits8.images[:20]
    head = trained.model.head
    logits = (trained.features(images) @ head.weight.data.T.astype(np.float64)
              + head.bias.data)
    expected = np.exp(logits - logits.max(axis=1, keepdims=True))
    expected /= expected.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(trained.predict_proba(images), expected, rtol=1e-4, atol=1e-6)


def test_cached_weights_load_back_with_the_same_accuracy_and_outputs(trained, digits8,
                                                                       cache_dir):
    path = cache_path(digits8, trained.config, cache_dir)
    assert path.exists()
    assert path.name.startswith("digits-1x8x8-") and path.suffix == ".safetensors"
    again = train_classifier(digits8, cache_dir=cache_dir)
    assert again.test_accuracy == trained.test_accuracy
    np.testing.assert_array_equal(again.features(digits8.images[:50]),
                                  trained.features(digits8.images[:50]))


def test_training_is_deterministic_and_leaves_the_global_generator_alone(digits8):
    state = mg.get_rng_state()
    first = train_classifier(digits8, TINY, use_cache=False)
    assert mg.get_rng_state() == state
    second = train_classifier(digits8, TINY, use_cache=False)
    for (name, a), (_, b) in zip(first.model.state_dict().items(),
                                 second.model.state_dict().items()):
        np.testing.assert_array_equal(a.data, b.data, err_msg=name)
    assert first.test_accuracy == second.test_accuracy


def test_use_cache_false_writes_nothing(digits8, tmp_path):
    train_classifier(digits8, TINY, cache_dir=tmp_path, use_cache=False)
    assert list(tmp_path.iterdir()) == []


def test_cache_key_changes_with_config_data_and_shape(digits8, tmp_path):
    base = cache_path(digits8, TINY, tmp_path)
    assert cache_path(digits8, ClassifierConfig(channels=(4, 8), feature_dim=16, epochs=2),
                      tmp_path) != base
    changed = ImageDataset(digits8.images.copy(), digits8.labels[::-1].copy(),
                           digits8.classes, digits8.name)
    assert cache_path(changed, TINY, tmp_path) != base
    assert cache_path(load_digits(16), TINY, tmp_path).name.startswith("digits-1x16x16-")


def test_default_cache_dir_follows_minigan_cache(digits8, tmp_path, monkeypatch):
    monkeypatch.setenv("MINIGAN_CACHE", str(tmp_path))
    assert cache_path(digits8, TINY).parent == tmp_path / "classifiers"


def test_feature_classifier_shapes_for_other_image_sizes():
    model = FeatureClassifier((3, 32, 32), num_classes=7, channels=(4, 8), feature_dim=12)
    x = mg.randn(2, 3, 32, 32)
    assert model.features(x).shape == (2, 12)
    assert model(x).shape == (2, 7)


def test_images_of_the_wrong_shape_are_rejected(trained):
    with pytest.raises(ValueError, match=r"Classifier\('digits'\): expected images of shape "
                                         r"\(n, 1, 8, 8\) with n >= 1, got \(3, 1, 16, 16\)"):
        trained.predict(np.zeros((3, 1, 16, 16), np.float32))


@pytest.mark.parametrize("kwargs, message", [
    (dict(channels=(4,)), "channels must be two positive ints"),
    (dict(epochs=0), "epochs, batch_size and lr must be positive"),
    (dict(test_fraction=1.0), r"test_fraction must lie in \(0, 1\)"),
])
def test_bad_configs_are_rejected(kwargs, message):
    with pytest.raises(ValueError, match="ClassifierConfig: " + message):
        ClassifierConfig(**kwargs)
