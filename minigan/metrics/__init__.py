"""GAN metrics on NumPy in float64: mode coverage on Gaussian mixtures, Fréchet distance,
improved precision/recall, class coverage/KL from a classifier's predictions, and the small
CNN that minigan trains on a dataset to provide those predictions and features."""
from minigan.metrics.classes import (ClassMetrics, class_histogram, class_metrics,
                                     kl_divergence, predicted_labels)
from minigan.metrics.classifier import (Classifier, ClassifierConfig, FeatureClassifier,
                                        cache_path, default_cache_dir, train_classifier)
from minigan.metrics.frechet import (feature_statistics, frechet_distance,
                                     frechet_distance_from_stats)
from minigan.metrics.mixture import STANDARD_NUM_SAMPLES, MixtureMetrics, mixture_metrics
from minigan.metrics.precision_recall import PrecisionRecall, knn_radii, precision_recall

__all__ = [
    "Classifier", "ClassifierConfig", "FeatureClassifier", "cache_path", "default_cache_dir",
    "train_classifier",
    "ClassMetrics", "class_histogram", "class_metrics", "kl_divergence", "predicted_labels",
    "feature_statistics", "frechet_distance", "frechet_distance_from_stats",
    "STANDARD_NUM_SAMPLES", "MixtureMetrics", "mixture_metrics",
    "PrecisionRecall", "knn_radii", "precision_recall",
]
