"""Frechet distance between two image sets in a feature space the pipeline has.

FID (Heusel et al. 2017) uses Inception features, which would need a
download; here the space is a trained classifier's penultimate layer when
one is given, else the fixed random-weight CNN (feature_networks). Numbers
from different spaces are not comparable, so the space is always reported.
"""

from __future__ import annotations

from typing import Dict, Optional

import keras
import numpy as np
import scipy.linalg

from components.synthesis import feature_networks

RANDOM_CNN_SPACE = "random_cnn_last_layer_mean"
CLASSIFIER_SPACE = "classifier_penultimate"


def frechet_distance(features_a: np.ndarray, features_b: np.ndarray) -> float:
    """||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2)) of two `[N, D]` feature sets."""
    features_a = np.asarray(features_a, dtype=np.float64)
    features_b = np.asarray(features_b, dtype=np.float64)
    if features_a.ndim != 2 or features_b.ndim != 2 or features_a.shape[1] != features_b.shape[1]:
        raise ValueError(f"Need two [N, D] feature sets of equal D; got {features_a.shape} and {features_b.shape}.")
    if len(features_a) < 2 or len(features_b) < 2:
        raise ValueError("Each feature set needs at least 2 rows for a covariance.")
    mean_a, mean_b = features_a.mean(axis=0), features_b.mean(axis=0)
    cov_a = np.atleast_2d(np.cov(features_a, rowvar=False))
    cov_b = np.atleast_2d(np.cov(features_b, rowvar=False))
    root, _ = scipy.linalg.sqrtm(cov_a @ cov_b, disp=False)
    if not np.all(np.isfinite(root)):
        # Near-singular product (few samples, many dims): regularize as the FID reference code does.
        offset = np.eye(cov_a.shape[0]) * 1e-6
        root = scipy.linalg.sqrtm((cov_a + offset) @ (cov_b + offset))
    root = np.real(root)
    distance = np.sum((mean_a - mean_b) ** 2) + np.trace(cov_a) + np.trace(cov_b) - 2.0 * np.trace(root)
    return float(max(distance, 0.0))


def image_features(images: np.ndarray, classifier: Optional[keras.Model] = None, seed: int = 0) -> np.ndarray:
    """`[N, D]` features of `[N,H,W,C]` images in [0,1]: classifier penultimate layer, else random CNN."""
    if classifier is not None:
        return feature_networks.classifier_features(classifier, images)
    return feature_networks.pooled_random_features(images, seed=seed)


def feature_space_name(classifier: Optional[keras.Model]) -> str:
    return CLASSIFIER_SPACE if classifier is not None else RANDOM_CNN_SPACE


def image_set_distances(
    generated: np.ndarray,
    real: np.ndarray,
    reference: Optional[np.ndarray] = None,
    classifier: Optional[keras.Model] = None,
    seed: int = 0,
) -> Dict[str, object]:
    """FD(generated, real) and, when `reference` real images are given, FD(reference, real).

    The real-vs-real distance is the floor that sample size alone produces,
    the yardstick for reading the generated-vs-real number.
    """
    real_features = image_features(real, classifier, seed)
    result: Dict[str, object] = {
        "feature_space": feature_space_name(classifier),
        "frechet_distance": frechet_distance(image_features(generated, classifier, seed), real_features),
        "num_generated": int(len(generated)),
        "num_real": int(len(real)),
    }
    if reference is not None and len(reference) >= 2:
        result["frechet_distance_real_reference"] = frechet_distance(
            image_features(reference, classifier, seed), real_features
        )
        result["num_reference"] = int(len(reference))
    return result
