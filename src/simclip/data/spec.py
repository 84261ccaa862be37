"""Dataset spec strings: the one parser behind every ``--data`` argument.

A spec is ``KIND`` or ``KIND:PATH``, optionally followed by ``?key=value&key=value`` options::

    digits
    shapes?n=2000&label=color
    mnist:/data/mnist
    cifar10:~/cifar-10-batches-py?size=64
    folder:photos/?size=64&channels=1&strict=1
    captions:pairs.csv
    pairs:world/pairs.csv?size=32
    videos:world/videos?frames=16&size=32

Options (each kind accepts only the ones listed for it in ``FORMS``):

- ``size``: square side in pixels that images are resized to (same as ``image_size=``).
- ``channels``: ``1`` (grayscale, ITU-R 601 luma) or ``3`` (RGB, the default) for image files.
- ``strict``: ``1``/``true`` raises on the first undecodable file instead of skipping it.
- ``n``, ``seed``, ``label``: size, seed and labelling (``shape``, ``color``, ``size``,
  ``position`` or ``pair``) of the procedural ``shapes`` dataset.
- ``shuffle_buffer``, ``resample``, ``workers``: streaming of ``wds:`` shards (``shards/webdataset.py``).
  ``workers`` of a ``folder:`` is its decoding processes and the loader processes that make
  SimCLR's views on the CPU (default: decoding on every core, views in the training process).
- ``frames``, ``audio_ms``: frames sampled per clip and the audio around a frame, of ``videos:``
  folders (``videos/load.py``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import overload

from simclip.errors import SimclipError

SPLITS = ("train", "test")

# (form, description, option keys). The form's prefix before ":" is the kind.
FORMS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("digits", "scikit-learn's 1,797 real 8x8 handwritten digits, built in (upsampled to 28x28)",
     ("size",)),
    ("shapes", "procedural coloured shapes with compositional captions, built in",
     ("size", "n", "seed", "label")),
    ("mnist:PATH", "folder with the MNIST IDX files (train-images-idx3-ubyte[.gz], t10k-...)",
     ("size",)),
    ("cifar10:PATH", "folder with the CIFAR-10 python batches (data_batch_1..5, test_batch)",
     ("size",)),
    ("cifar100:PATH", "folder with the CIFAR-100 python files (train, test, meta; fine labels)",
     ("size",)),
    ("folder:PATH", "image folder: one sub-folder per class, or flat and unlabelled; "
     "train/ and test/ (or val/) sub-folders give the splits", ("size", "channels", "strict", "workers")),
    ("captions:FILE", "CSV or JSONL file with fields image (path relative to FILE) and caption",
     ("size", "channels")),
    ("pairs:FILE", "CSV or JSONL table with one column per modality (image, depth, audio, points: "
     "paths relative to FILE; text) and label columns, as 'simclip data make-world' writes",
     ("size", "strict")),
    ("videos:DIR", "video folder (MP4, MKV, WebM, ... read with PyAV), laid out as folder:PATH; each clip "
     "sampled to `frames` frames decoded at `size`", ("size", "frames", "audio_ms", "strict")),
    ("wds:SHARDS", "WebDataset tar shards, streamed: a folder with shards.json, one .tar or a brace "
     "pattern DIR/{000000..000009}.tar; also https://..., s3://... (fsspec) or pipe:COMMAND",
     ("size", "channels", "shuffle_buffer", "resample", "workers", "strict")),
)
_KINDS = {form.split(":")[0]: (form, keys) for form, _, keys in FORMS}
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class DatasetSpecError(SimclipError, ValueError):
    """A dataset spec string that names no valid dataset; the message lists the valid forms."""


def list_dataset_forms(describe: bool = False) -> list[str]:
    """The accepted spec forms, e.g. ``["digits", "shapes", "mnist:PATH", ...]``.

    With ``describe=True`` each entry is ``"FORM  description (options: ...)"`` for help texts.
    """
    if not describe:
        return [form for form, _, _ in FORMS]
    width = max(len(form) for form, _, _ in FORMS)
    return [f"{form:<{width}}  {text} (options: {', '.join(keys)})" for form, text, keys in FORMS]


def spec_error(spec: str, reason: str) -> DatasetSpecError:
    """A ``DatasetSpecError`` naming ``spec`` and ``reason`` and listing the valid forms."""
    forms = "\n  ".join(list_dataset_forms(describe=True))
    return DatasetSpecError(f"invalid dataset spec {spec!r}: {reason}.\nValid forms:\n  {forms}\n"
                            "Options follow as ?key=value&key=value, e.g. folder:photos?size=64")


@dataclass(frozen=True)
class DatasetSpec:
    """A parsed spec: ``kind`` (e.g. ``"mnist"``), ``path`` (None for built-ins), ``options``."""

    text: str
    kind: str
    path: Path | None
    options: dict[str, str] = field(default_factory=dict)

    @property
    def file_path(self) -> Path:
        """``path`` of a kind written ``KIND:PATH`` (:func:`parse_spec` has checked that it exists)."""
        if self.path is None:
            raise spec_error(self.text, f"{self.kind} needs a path: {self.kind}:PATH")
        return self.path

    @overload
    def int_option(self, key: str, default: int, minimum: int = 1) -> int: ...

    @overload
    def int_option(self, key: str, default: None, minimum: int = 1) -> int | None: ...

    def int_option(self, key: str, default: int | None, minimum: int = 1) -> int | None:
        """Option ``key`` as an int >= ``minimum``, or ``default`` when absent."""
        if key not in self.options:
            return default
        raw = self.options[key]
        try:
            value = int(raw)
        except ValueError:
            raise spec_error(self.text, f"option {key}={raw!r} is not an integer") from None
        if value < minimum:
            raise spec_error(self.text, f"option {key}={value} must be >= {minimum}")
        return value

    def bool_option(self, key: str, default: bool) -> bool:
        """Option ``key`` as a bool (``1/true/yes/on`` or ``0/false/no/off``)."""
        raw = self.options.get(key)
        if raw is None:
            return default
        if raw.lower() in _TRUE | _FALSE:
            return raw.lower() in _TRUE
        raise spec_error(self.text, f"option {key}={raw!r} is not a boolean (use 1 or 0)")

    def choice_option(self, key: str, choices: tuple[str, ...], default: str) -> str:
        """Option ``key``, which must be one of ``choices``."""
        raw = self.options.get(key, default)
        if raw not in choices:
            raise spec_error(self.text, f"option {key}={raw!r} must be one of {', '.join(choices)}")
        return raw

    def image_size(self, image_size: int | None) -> int | None:
        """The requested square side: the ``image_size`` argument or the ``size`` option."""
        from_spec = self.int_option("size", None)
        if image_size is not None:
            if isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < 1:
                raise ValueError(f"image_size must be a positive int or None, got {image_size!r}")
            if from_spec is not None and from_spec != image_size:
                raise spec_error(self.text, f"option size={from_spec} contradicts "
                                            f"image_size={image_size}")
            return image_size
        return from_spec


def parse_spec(spec: str) -> DatasetSpec:
    """Parse ``KIND[:PATH][?key=value&...]``; checks the kind, the options and that PATH exists."""
    if not isinstance(spec, str):
        raise TypeError(f"dataset spec must be a str, got {type(spec).__name__}")
    text = spec.strip()
    body, _, query = text.partition("?")
    kind, colon, raw_path = body.partition(":")
    if kind not in _KINDS:
        raise spec_error(spec, f"unknown dataset kind {kind!r}")
    form, keys = _KINDS[kind]
    takes_path = ":" in form
    if takes_path and not raw_path:
        raise spec_error(spec, f"{kind} needs a path ({form})")
    if not takes_path and colon:
        raise spec_error(spec, f"{kind} is built in and takes no path")
    options = _parse_options(spec, query, keys) if query else {}
    path = _check_path(spec, kind, raw_path) if takes_path else None
    return DatasetSpec(text=text, kind=kind, path=path, options=options)


def check_split(split: str) -> str:
    """Validate a split name (``"train"`` or ``"test"``)."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
    return split


def _parse_options(spec: str, query: str, keys: tuple[str, ...]) -> dict[str, str]:
    options: dict[str, str] = {}
    for item in query.split("&"):
        key, eq, value = item.partition("=")
        if not eq or not key or not value:
            raise spec_error(spec, f"option {item!r} is not key=value")
        if key not in keys:
            raise spec_error(spec, f"unknown option {key!r} (this kind accepts: {', '.join(keys)})")
        if key in options:
            raise spec_error(spec, f"option {key!r} given twice")
        options[key] = value
    return options


def _check_path(spec: str, kind: str, raw_path: str) -> Path:
    try:
        return _existing_path(spec, kind, raw_path)
    except DatasetSpecError:
        raise
    except (OSError, RuntimeError, ValueError) as err:  # ~nosuchuser, a name too long, a NUL byte
        raise spec_error(spec, f"path {raw_path!r} cannot be used ({err})") from None


def _existing_path(spec: str, kind: str, raw_path: str) -> Path:
    path = Path(raw_path).expanduser()
    if kind == "wds":  # may be a brace pattern; shards/webdataset.py resolves and checks it
        return path
    if not path.exists():
        raise spec_error(spec, f"path {str(path)!r} does not exist")
    if kind in ("captions", "pairs"):
        if not path.is_file() or path.suffix.lower() not in (".csv", ".jsonl"):
            raise spec_error(spec, f"{str(path)!r} is not a .csv or .jsonl file")
    elif not path.is_dir():
        raise spec_error(spec, f"{str(path)!r} is not a folder")
    return path
