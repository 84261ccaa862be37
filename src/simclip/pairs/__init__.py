"""Contrastive learning between any two or more modalities ("context as the positive"): one tower
per modality (``towers``), the CLIP loss between an anchor and every other modality (ImageBind),
trained by the one loop on a ``pairs:`` table (``run``) and evaluated by linear/kNN probes of each
tower and cross-modal retrieval (``evaluate``)."""

from simclip.pairs.config import PairModelConfig, PairObjectiveConfig
from simclip.pairs.evaluate import PROTOCOLS, cross_modal_recall, evaluate_pairs, pair_features
from simclip.pairs.model import PairModel
from simclip.pairs.run import build_pair, epochs_for_steps, load_pair_run, pair_config, run_pairs
from simclip.pairs.towers import DEFAULT_TOWERS, create_tower, list_towers

__all__ = ["DEFAULT_TOWERS", "PROTOCOLS", "PairModel", "PairModelConfig", "PairObjectiveConfig", "build_pair",
           "create_tower", "cross_modal_recall", "epochs_for_steps", "evaluate_pairs", "list_towers",
           "load_pair_run", "pair_config", "pair_features", "run_pairs"]
