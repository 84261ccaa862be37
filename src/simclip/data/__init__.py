"""Datasets behind one spec string (``digits``, ``shapes``, ``mnist:PATH``, ``cifar10:PATH``,
``cifar100:PATH``, ``folder:PATH``, ``captions:FILE``), held in memory, or ``wds:SHARDS`` tar
shards, streamed; the batch loader; ``write_shards`` to turn any of them into shards."""
from simclip.data.caption_dataset import CaptionDataset
from simclip.data.captions import load_caption_dataset
from simclip.data.checksums import ChecksumError
from simclip.data.cifar import CIFARFormatError
from simclip.data.caption_files import CaptionFileError
from simclip.data.class_captions import CLASS_TEMPLATES, DIGIT_TEMPLATES, DIGIT_WORDS
from simclip.data.decode import ImageDecodeError
from simclip.data.folder import FolderLayoutError
from simclip.data.idx import IDXFormatError
from simclip.data.image_dataset import ImageDataset
from simclip.data.in_memory import captions_in_memory, images_in_memory
from simclip.data.load import load_dataset
from simclip.data.loader import batch_indices, batches, epoch_permutation, steps_per_epoch
from simclip.data.shapes import HELD_OUT_PAIRS, ShapeScenes, render_shapes
from simclip.data.shards.write import write_shards
from simclip.data.spec import DatasetSpecError, list_dataset_forms, parse_spec
from simclip.data.shards.tar_samples import ShardError
from simclip.data.shards.webdataset import ShardedDataset

__all__ = [
    "CLASS_TEMPLATES", "DIGIT_TEMPLATES", "DIGIT_WORDS", "HELD_OUT_PAIRS",
    "CIFARFormatError", "CaptionDataset", "CaptionFileError", "ChecksumError", "DatasetSpecError",
    "FolderLayoutError", "IDXFormatError", "ImageDataset", "ImageDecodeError", "ShapeScenes",
    "ShardError", "ShardedDataset", "batch_indices", "batches", "captions_in_memory", "epoch_permutation",
    "images_in_memory",
    "list_dataset_forms", "load_caption_dataset", "load_dataset", "parse_spec", "render_shapes",
    "steps_per_epoch", "write_shards",
]
