"""``load_dataset``: any dataset spec string (see ``spec.py``) to an in-memory ``ImageDataset``
(or, for ``wds:`` shards, a streamed ``ShardedDataset``)."""
from __future__ import annotations

from simclip.data.caption_dataset import CaptionDataset
from simclip.data.caption_files import load_caption_file
from simclip.data.cifar import load_cifar
from simclip.data.digits import load_digits
from simclip.data.folder import load_folder
from simclip.data.image_dataset import ImageDataset
from simclip.data.mnist import load_mnist
from simclip.data.shapes import LABELINGS, load_shapes
from simclip.data.spec import DatasetSpec, check_split, parse_spec, spec_error
from simclip.data.shards.webdataset import ShardedDataset, load_sharded
from simclip.data.videos.load import load_videos


def load_dataset(spec: str, split: str = "train", image_size: int | None = None, *,
                 strict: bool = False) -> ImageDataset | ShardedDataset:
    """Load split ``"train"`` or ``"test"`` of the dataset named by ``spec``.

    Args:
        spec: ``digits``, ``shapes``, ``mnist:PATH``, ``cifar10:PATH``, ``cifar100:PATH``,
            ``folder:PATH``, ``captions:FILE`` (captions dropped, unlabelled), ``videos:DIR``
            (clips, a ``VideoDataset``) or ``wds:SHARDS`` (streamed, not loaded), each optionally
            followed by ``?key=value`` options (``list_dataset_forms(describe=True)``).
        split: ``"train"`` or ``"test"``.
        image_size: square side to resize to; None keeps each format's native size (digits 28,
            MNIST 28, CIFAR 32, shapes 32, image files: see ``folder.py``).
        strict: image folders and shards: raise on the first undecodable file or sample
            instead of skipping it (also the spec option ``strict=1``).

    Returns:
        An ``ImageDataset`` with images uint8 ``[N, C, S, S]``; for ``wds:`` a
        ``ShardedDataset`` that ``batches`` streams; for ``videos:`` a ``VideoDataset`` (an
        ``ImageDataset`` of the clips' middle frames that also holds the clips).

    Raises:
        DatasetSpecError: unknown kind, malformed options or a PATH that does not exist.
        FileNotFoundError: a file the format needs is missing (the message names it).
    """
    parsed = parse_spec(spec)
    check_split(split)
    size = parsed.image_size(image_size)
    if parsed.kind == "digits":
        return load_digits(split, size)
    if parsed.kind == "mnist":
        return load_mnist(parsed.file_path, split, size)
    if parsed.kind in ("cifar10", "cifar100"):
        return load_cifar(parsed.file_path, parsed.kind, split, size)
    if parsed.kind == "folder":
        return load_folder(parsed.file_path, split, size, channels=channels_option(parsed),
                           strict=strict or parsed.bool_option("strict", False),
                           workers=parsed.int_option("workers", None, minimum=0))
    if parsed.kind == "shapes":
        return load_shapes_spec(parsed, split, size).as_image_dataset()
    if parsed.kind == "captions":
        return load_caption_file(parsed.file_path, split, size, channels_option(parsed)).as_image_dataset()
    if parsed.kind == "wds":
        return load_sharded(parsed, split, size, strict=strict)
    if parsed.kind == "videos":
        return load_videos(parsed, split, size, strict=strict)
    if parsed.kind == "pairs":  # several modalities: simclip.data.paired reads them
        raise spec_error(spec, "a pairs: table holds several modalities; train on it with "
                               "'simclip pair train' (simclip.data.paired.load_paired_dataset)")
    raise AssertionError(f"kind {parsed.kind!r} is parsed but has no loader")


def channels_option(parsed: DatasetSpec) -> int:
    """The ``channels`` option (1 or 3, default 3)."""
    return int(parsed.choice_option("channels", ("1", "3"), "3"))


def load_shapes_spec(parsed: DatasetSpec, split: str, size: int | None) -> CaptionDataset:
    """``shapes?n=..&seed=..&label=..`` as a ``CaptionDataset``."""
    return load_shapes(split, size, n=parsed.int_option("n", None),
                       seed=parsed.int_option("seed", 0, minimum=0),
                       label=parsed.choice_option("label", LABELINGS, "shape"))
