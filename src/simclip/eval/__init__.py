"""Evaluation of frozen encoders; every evaluator returns ``dict[str, float]``.

- ``protocols``: :func:`evaluate` -- the one interface: a model (``encode_image``, and
  ``encode_text`` for the text protocols), protocol names (``linear``, ``knn``, ``zeroshot``,
  ``retrieval``) and the splits; each split encoded once.
- ``features``: ``extract_features`` / ``extract_text_features`` (one pass, no gradients).
- ``knn``: InstDisc weighted kNN (Wu et al. 2018).
- ``linear``: CLIP's L-BFGS logistic-regression probe (Radford et al. 2021, App. A.3).
- ``zeroshot`` + ``templates``: prompt-ensembled zero-shot classification (CLIP sec. 3.1.4).
- ``retrieval``: image<->text recall@k.
- ``classification``: ``evaluate_classification``, the classification protocols of an encode function.
"""

from simclip.eval.classification import evaluate_classification
from simclip.eval.features import extract_features, extract_text_features
from simclip.eval.knn import knn_classify
from simclip.eval.linear import DEFAULT_C_GRID, linear_probe
from simclip.eval.logistic_regression import SoftmaxClassifier, fit_logistic_regression
from simclip.eval.protocols import CLASSIFICATION_PROTOCOLS, PROTOCOLS, TEXT_PROTOCOLS, evaluate
from simclip.eval.retrieval import retrieval_recall
from simclip.eval.templates import get_templates, list_template_sets
from simclip.eval.zeroshot import rank_labels, zero_shot_classifier, zero_shot_eval

__all__ = [
    "CLASSIFICATION_PROTOCOLS",
    "DEFAULT_C_GRID",
    "PROTOCOLS",
    "SoftmaxClassifier",
    "TEXT_PROTOCOLS",
    "evaluate",
    "evaluate_classification",
    "extract_features",
    "extract_text_features",
    "fit_logistic_regression",
    "get_templates",
    "knn_classify",
    "linear_probe",
    "list_template_sets",
    "rank_labels",
    "retrieval_recall",
    "zero_shot_classifier",
    "zero_shot_eval",
]
