"""Paired multimodal datasets (``pairs:FILE.csv|jsonl``): a table with one column per modality,
readers for each (image, depth, audio as log-mel, point cloud, caption), held in memory."""

from simclip.data.paired.audio import log_mel, mel_filterbank, read_wav
from simclip.data.paired.dataset import MODALITIES, PairedDataset
from simclip.data.paired.errors import PairFileError
from simclip.data.paired.load import load_paired_dataset

__all__ = ["MODALITIES", "PairFileError", "PairedDataset", "load_paired_dataset", "log_mel",
           "mel_filterbank", "read_wav"]
