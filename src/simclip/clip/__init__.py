"""CLIP dual encoders (Radford et al. 2021): configs, named architectures, exact checkpoint loading.

``create_model(name)`` builds a named architecture (``list_models()``); ``load(source)`` reads
OpenAI/OpenCLIP/simclip weights, inferring the architecture from tensor shapes, and returns
``(model, preprocess)`` (a training run's folder too); ``get_tokenizer(model)`` gives the tokenizer that
fits the model; ``save(model, path)`` writes weights with their config. Every model offers
``encode_image``, ``encode_text`` and ``forward``.
"""

from simclip.clip.checkpoint_io import checkpoint_metadata, save
from simclip.clip.config import (OPENAI_MEAN, OPENAI_STD, CLIPConfig, CLIPTextConfig, CLIPVisionConfig,
                                 PreprocessConfig)
from simclip.clip.convert import to_openai_layout, to_simclip_layout
from simclip.clip.factory import create_model, get_model_config, list_models
from simclip.clip.infer import infer_config
from simclip.clip.load import load, load_state_dict_exact
from simclip.clip.model import CLIP
from simclip.clip.pos_embed import resize_grid_embedding
from simclip.clip.preprocess import ImagePreprocess, preprocess_tensor
from simclip.clip.pretrained import list_pretrained
from simclip.clip.pretrained_names import resolve_pretrained
from simclip.clip.tokenizer import get_tokenizer
from simclip.text import Tokenizer

__all__ = ["CLIP", "CLIPConfig", "CLIPTextConfig", "CLIPVisionConfig", "ImagePreprocess", "OPENAI_MEAN",
           "OPENAI_STD", "PreprocessConfig", "Tokenizer", "checkpoint_metadata", "create_model",
           "get_model_config", "get_tokenizer", "infer_config", "list_models", "list_pretrained", "load",
           "load_state_dict_exact", "preprocess_tensor", "resize_grid_embedding", "resolve_pretrained", "save",
           "to_openai_layout", "to_simclip_layout"]
