"""What a run measures at each evaluation: mode coverage and high-quality share on 2-D
mixtures; on images, scores in the feature space of minigan's own classifier (Fréchet
distance, precision/recall, class coverage and class-histogram KL; not comparable with
Inception-based numbers in papers, see ``minigan.metrics.classifier``)."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from minigan.data.dataset import ImageDataset
from minigan.data.toy import GaussianMixture
from minigan.metrics import (class_histogram, class_metrics, frechet_distance,
                             mixture_metrics, precision_recall)
from minigan.metrics.mixture import STANDARD_NUM_SAMPLES

Sampler = Callable[[int], np.ndarray]


class Evaluator:
    """``evaluate(sample)`` with ``sample(n)`` returning n generated examples as NumPy."""

    def __init__(self, dataset: Any, num_samples: int | None = None) -> None:
        self.dataset = dataset
        self.classifier = None
        if isinstance(dataset, ImageDataset):
            from minigan.metrics.classifier import train_classifier
            self.classifier = train_classifier(dataset)
            self.num_samples = num_samples or min(len(dataset), 2000)
            self.real_features = self.classifier.features(dataset.images)
            self.data_hist = class_histogram(dataset.labels, dataset.num_classes)
        else:
            self.num_samples = num_samples or STANDARD_NUM_SAMPLES

    def evaluate(self, sample: Sampler) -> dict[str, float]:
        fake = sample(self.num_samples)
        if isinstance(self.dataset, GaussianMixture):
            m = mixture_metrics(fake, self.dataset.modes, self.dataset.std)
            return {"modes_covered": int(m.modes_covered), "num_modes": int(m.num_modes),
                    "high_quality": float(m.high_quality_fraction)}
        if self.classifier is None:
            return {}
        features = self.classifier.features(fake)
        pr = precision_recall(self.real_features, features)
        classes = class_metrics(self.classifier.predict_proba(fake),
                                data_distribution=self.data_hist)
        return {"frechet": float(frechet_distance(self.real_features, features)),
                "precision": float(pr.precision), "recall": float(pr.recall),
                "classes_covered": int(classes.classes_covered),
                "class_kl": float(classes.kl),
                "classifier_accuracy": float(self.classifier.test_accuracy)}
