"""Reading CLIP weights from any of the formats they are shipped in, without running pickled code.

Formats: OpenAI's TorchScript archives (deserialised with ``torch.jit.load``, as openai/CLIP does, and
only their state dict kept), ``torch.save`` files (read with ``weights_only=True``), safetensors files,
and state dicts in memory; training wrappers (``{"state_dict": ...}``) and prefixes added by
``DistributedDataParallel`` (``module.``) or ``torch.compile`` (``_orig_mod.``) are removed. Besides the
tensors, what a file says about its activation function is collected, as the shapes cannot say it.

simclip writes its own checkpoints with the model's :class:`CLIPConfig` inside (:func:`save`): as
safetensors metadata, or as a ``"clip_config"`` entry next to ``"state_dict"`` in a ``torch.save`` file.
"""

from __future__ import annotations

import json
import pickle
import warnings
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:
    from simclip.clip.config import CLIPConfig
    from simclip.clip.model import CLIP

OPENAI_METADATA_KEYS = ("input_resolution", "context_length", "vocab_size")
WRAPPER_KEYS = ("state_dict", "model")
PREFIXES = ("module.", "_orig_mod.")
OPEN_CLIP_CONFIG = "open_clip_config.json"
CONFIG_KEY = "clip_config"


@dataclass
class RawCheckpoint:
    """Tensors of a checkpoint and what it says about itself.

    ``quick_gelu_in_file``: the activation found in the file itself (module types of a TorchScript
    archive; OpenAI's metadata entries mean QuickGELU), ``None`` when it says nothing.
    ``open_clip_config``: the ``open_clip_config.json`` found next to the file, if any.
    ``clip_config``: the ``CLIPConfig.to_dict()`` a simclip checkpoint carries, if any.
    """

    state_dict: dict[str, torch.Tensor]
    origin: str
    quick_gelu_in_file: bool | None = None
    open_clip_config: dict[str, Any] | None = None
    clip_config: dict[str, Any] | None = None


def read_checkpoint(source: str | Path | Mapping[str, Any]) -> RawCheckpoint:
    """Read ``source`` (a path or an in-memory state dict) into a :class:`RawCheckpoint`."""
    if isinstance(source, Mapping):
        raw = RawCheckpoint(dict(source), origin="<state dict in memory>")
    elif isinstance(source, (str, Path)):
        raw = _read_file(Path(source))
    else:
        raise TypeError(f"source must be a path or a state dict, got {type(source).__name__}")
    if isinstance(raw.state_dict, Mapping) and isinstance(raw.state_dict.get(CONFIG_KEY), Mapping):
        raw.clip_config = dict(raw.state_dict[CONFIG_KEY])
        raw.state_dict = {k: v for k, v in raw.state_dict.items() if k != CONFIG_KEY}
    raw.state_dict = _unwrap(raw.state_dict, raw.origin)
    if any(k in raw.state_dict for k in OPENAI_METADATA_KEYS):
        # Only OpenAI's released archives carry these entries; those models use QuickGELU.
        if raw.quick_gelu_in_file is None:
            raw.quick_gelu_in_file = True
        for key in OPENAI_METADATA_KEYS:
            raw.state_dict.pop(key, None)
    bad = [k for k, v in raw.state_dict.items()
           if not isinstance(k, str) or not isinstance(v, torch.Tensor)]
    if bad:
        raise ValueError(f"{raw.origin}: entries that are not name -> tensor: {bad[:10]}")
    return raw


def _read_file(path: Path) -> RawCheckpoint:
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint file not found: {path}")
    config = _read_open_clip_config(path.parent / OPEN_CLIP_CONFIG)
    with path.open("rb") as f:
        magic = f.read(8)
    if path.suffix == ".safetensors" or (len(magic) == 8 and magic[:8] != b"PK\x03\x04" and
                                         _looks_like_safetensors(path, magic)):
        tensors, clip_config = _read_safetensors(path)
        return RawCheckpoint(tensors, str(path), open_clip_config=config, clip_config=clip_config)
    if magic[:4] == b"PK\x03\x04":
        try:
            with zipfile.ZipFile(path) as z:
                names = z.namelist()
        except (zipfile.BadZipFile, OSError) as err:
            raise ValueError(f"checkpoint file {path} is truncated or corrupt: {err}") from None
        if any(name.split("/")[1:2] == ["code"] for name in names):
            state_dict, quick_gelu = _read_torchscript(path)
            return RawCheckpoint(state_dict, str(path), quick_gelu, config)
    return RawCheckpoint(_read_torch_save(path), str(path), open_clip_config=config)


def _looks_like_safetensors(path: Path, magic: bytes) -> bool:
    # A safetensors file starts with the little-endian length of a JSON header that opens with "{".
    header_len = int.from_bytes(magic, "little")
    if header_len <= 0 or header_len > path.stat().st_size:
        return False
    with path.open("rb") as f:
        f.seek(8)
        return f.read(1) == b"{"


def _read_safetensors(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any] | None]:
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            tensors = {k: f.get_tensor(k) for k in f.keys()}
            metadata = f.metadata() or {}
    except (SafetensorError, OSError, ValueError) as err:
        raise ValueError(f"checkpoint file {path} is not a readable safetensors file "
                         f"(truncated or corrupt?): {err}") from None
    if CONFIG_KEY not in metadata:
        return tensors, None
    try:
        return tensors, json.loads(metadata[CONFIG_KEY])
    except json.JSONDecodeError as err:
        raise ValueError(f"checkpoint file {path}: its {CONFIG_KEY!r} metadata is not JSON: {err}") from None


def checkpoint_metadata(config: CLIPConfig) -> dict[str, str]:
    """Safetensors metadata that makes a weights file self-describing: ``{"clip_config": json}``."""
    return {CONFIG_KEY: json.dumps(config.to_dict())}


def save(model: CLIP, path: str | Path) -> Path:
    """Write ``model`` (a :class:`~simclip.clip.CLIP`) with its config so ``load(path)`` rebuilds it
    exactly: ``.safetensors`` (config in the metadata) or any other suffix (``torch.save`` of
    ``{"clip_config": ..., "state_dict": ...}``)."""
    from safetensors.torch import save_file

    path = Path(path)
    tensors = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    if path.suffix == ".safetensors":
        save_file(tensors, str(path), metadata=checkpoint_metadata(model.config))
    else:
        torch.save({CONFIG_KEY: model.config.to_dict(), "state_dict": tensors}, path)
    return path


def _read_torch_save(path: Path) -> Any:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        # torch's own message suggests weights_only=False, which would run the file's code
        raise ValueError(f"checkpoint file {path} cannot be read as a weights-only torch file: it is "
                         f"damaged, not a torch.save file, or holds pickled objects other than "
                         f"tensors") from None
    except Exception as err:  # torch raises several unrelated types for a damaged file
        raise ValueError(f"checkpoint file {path} cannot be read as a weights-only torch file "
                         f"(truncated or corrupt?): {type(err).__name__}: {str(err)[:200]}") from None


def _read_torchscript(path: Path) -> tuple[dict[str, torch.Tensor], bool | None]:
    try:
        with warnings.catch_warnings():
            # TorchScript is deprecated for new models, but it is the format OpenAI released in.
            warnings.simplefilter("ignore", FutureWarning)
            module = torch.jit.load(str(path), map_location="cpu")
    except Exception as err:  # RuntimeError for most damage, others for odd archives
        raise ValueError(f"TorchScript checkpoint {path} cannot be loaded (truncated or corrupt?): "
                         f"{type(err).__name__}: {str(err)[:300]}") from None
    kinds = {m.original_name for _, m in module.named_modules()}
    quick_gelu = True if "QuickGELU" in kinds else (False if "GELU" in kinds else None)
    return {k: v.detach().clone() for k, v in module.state_dict().items()}, quick_gelu


def _read_open_clip_config(path: Path) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"cannot read {path}: {err}") from None
    if not isinstance(config, dict) or not isinstance(config.get("model_cfg", {}), dict):
        raise ValueError(f"{path} is not an OpenCLIP config (no 'model_cfg' object)")
    return config


def _unwrap(obj: Any, origin: str) -> dict[str, torch.Tensor]:
    for key in WRAPPER_KEYS:
        if isinstance(obj, Mapping) and isinstance(obj.get(key), Mapping):
            obj = obj[key]
    if not isinstance(obj, Mapping) or not obj:
        raise ValueError(f"{origin} does not hold a state dict (a non-empty mapping of name -> tensor)")
    state = dict(obj)
    for prefix in PREFIXES:
        if all(isinstance(k, str) and k.startswith(prefix) for k in state):
            state = {k[len(prefix):]: v for k, v in state.items()}
    return state
