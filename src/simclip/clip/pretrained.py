"""Released CLIP weights: where they are published and a download cache.

OpenAI's archives come from their public bucket (the SHA-256 of each file is part of its URL and is
checked after download); OpenCLIP's from the Hugging Face hub (``open_clip_config.json`` is fetched
alongside, so the activation and preprocessing come with the weights).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from simclip.errors import MissingDependencyError

_OPENAI = "https://openaipublic.azureedge.net/clip/models/{}/{}.pt"
_OPENAI_SHA256 = {
    "RN50": "afeb0e10f9e5a86da6080e35cf09123aca3b358a0c3e3b6c78a7b63bc04b6762",
    "RN101": "8fa8567bab74a42d41c5915025a8e4538c3bdbe8804a470a72f30b0d94fab599",
    "RN50x4": "7e526bd135e493cef0776de27d5f42653e6b4c8bf9e0f653bb11773263205fdd",
    "RN50x16": "52378b407f34354e150460fe41077663dd5b39c54cd0bfd2b27167a4a06ec9aa",
    "RN50x64": "be1cfb55d75a9666199fb2206c106743da0f6468c9d327f3e0d0a543a9919d9c",
    "ViT-B-32": "40d365715913c9da98579312b702a82c18be219cc2a73407c4526f58eba950af",
    "ViT-B-16": "5806e77cd80f8b59890b7e101eabd078d9fb84e6937f9e85e4ecb61988df416f",
    "ViT-L-14": "b8cca3fd41ae0c99ba7e8951adf17d267cdb84cd88be6f7c2e0eca1737a03836",
    "ViT-L-14-336": "3035c92b350959924f9f00213499208652fc7ea050643e8b385c2dac08641f02",
}
# (model, tag) -> Hugging Face repository of OpenCLIP releases (Cherti et al. 2023; Gadre et al. 2023).
_HF_HUB = {
    ("ViT-B-32", "laion2b_s34b_b79k"): "laion/CLIP-ViT-B-32-laion2B-s34B-b79K",
    ("ViT-B-32", "datacomp_xl_s13b_b90k"): "laion/CLIP-ViT-B-32-DataComp.XL-s13B-b90K",
    ("ViT-B-16", "laion2b_s34b_b88k"): "laion/CLIP-ViT-B-16-laion2B-s34B-b88K",
    ("ViT-B-16", "datacomp_xl_s13b_b90k"): "laion/CLIP-ViT-B-16-DataComp.XL-s13B-b90K",
    ("ViT-L-14", "laion2b_s32b_b82k"): "laion/CLIP-ViT-L-14-laion2B-s32B-b82K",
    ("ViT-L-14", "datacomp_xl_s13b_b90k"): "laion/CLIP-ViT-L-14-DataComp.XL-s13B-b90K",
    ("ViT-H-14", "laion2b_s32b_b79k"): "laion/CLIP-ViT-H-14-laion2B-s32B-b79K",
    ("ViT-g-14", "laion2b_s34b_b88k"): "laion/CLIP-ViT-g-14-laion2B-s34B-b88K",
    ("ViT-bigG-14", "laion2b_s39b_b160k"): "laion/CLIP-ViT-bigG-14-laion2B-39B-b160k",
}
_HF_WEIGHTS = ("open_clip_model.safetensors", "open_clip_pytorch_model.bin")


def list_pretrained() -> list[tuple[str, str]]:
    """``(model, tag)`` pairs that ``load(model, pretrained=tag)`` can download."""
    return sorted([(m, "openai") for m in _OPENAI_SHA256] + list(_HF_HUB))


def release_quick_gelu(model: str, tag: str) -> bool | None:
    """The activation released weights need when their files may not say it: ``True`` (QuickGELU)
    for OpenAI's releases; ``None`` for the rest, whose files (``open_clip_config.json``) say it."""
    return True if tag == "openai" and model in _OPENAI_SHA256 else None


def default_cache_dir() -> Path:
    """``$SIMCLIP_CACHE`` or ``~/.cache/simclip``."""
    return Path(os.environ.get("SIMCLIP_CACHE", Path.home() / ".cache" / "simclip"))


def download_pretrained(source: str, pretrained: str | None,
                        cache_dir: str | Path | None = None) -> tuple[Path, bool | None]:
    """Local path of the released weights (downloading them once) and the activation they need
    (``True``: QuickGELU; ``None``: the files themselves say)."""
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    if isinstance(source, str) and source.startswith("hf-hub:"):
        return _from_hf_hub(source[len("hf-hub:"):], cache), None
    if pretrained == "openai" and source in _OPENAI_SHA256:
        sha = _OPENAI_SHA256[source]
        path = _download_url(_OPENAI.format(sha, source), cache / "openai" / f"{source}.pt", sha)
        return path, release_quick_gelu(source, pretrained)
    if pretrained is not None and (source, pretrained) in _HF_HUB:
        return _from_hf_hub(_HF_HUB[(source, pretrained)], cache), None
    known = ", ".join(f"{m}/{t}" for m, t in list_pretrained())
    raise ValueError(f"no released weights for model {source!r} with pretrained={pretrained!r}; "
                     f"known: {known}; or pass a local file path or 'hf-hub:org/name'")


def _download_url(url: str, target: Path, sha256: str | None) -> Path:
    if target.is_file() and (sha256 is None or _sha256(target) == sha256):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        with urllib.request.urlopen(url, timeout=60) as response, \
                tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as tmp:
            shutil.copyfileobj(response, tmp)
    except (urllib.error.URLError, OSError) as err:
        raise ConnectionError(f"cannot download {url} ({err}); without internet access, fetch the file "
                              f"elsewhere and pass its path to simclip.clip.load") from None
    if sha256 is not None and _sha256(Path(tmp.name)) != sha256:
        os.unlink(tmp.name)
        raise ValueError(f"download of {url} does not match its SHA-256 {sha256}")
    os.replace(tmp.name, target)  # atomic: a broken download never sits under the final name
    return target


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _from_hf_hub(repo: str, cache: Path) -> Path:
    try:
        from huggingface_hub import hf_hub_download
    except ImportError:
        raise MissingDependencyError("weights from the Hugging Face Hub need the huggingface_hub package: "
                                     "pip install 'simclip[hub]'") from None
    folder = cache / "hf"
    errors = []
    try:
        hf_hub_download(repo, "open_clip_config.json", cache_dir=folder)
        for name in _HF_WEIGHTS:
            try:
                return Path(hf_hub_download(repo, name, cache_dir=folder))
            except Exception as err:  # a missing file in the repository: try the next format
                errors.append(f"{name}: {type(err).__name__}")
    except Exception as err:  # no network, unknown repository, ...
        raise ConnectionError(f"cannot download {repo} from the Hugging Face hub ({type(err).__name__}: "
                              f"{err}); without internet access, fetch the files elsewhere and pass "
                              f"the weights' path to simclip.clip.load") from None
    raise ValueError(f"{repo} has none of {_HF_WEIGHTS}: {errors}")
