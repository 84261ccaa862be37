"""``PairedDataset``: one sample per object, one tensor (or caption) per modality, held in memory."""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor

# The modalities a table column can hold, named by the column. What each becomes:
#   image  uint8 [N, 3, S, S];  depth  float32 [N, 1, S, S] (distances);
#   audio  float32 [N, 1, n_mels, frames] (log-mel);  points  float32 [N, P, 3];  text  list[str]
MODALITIES = ("image", "depth", "audio", "points", "text")


@dataclass(kw_only=True)
class PairedDataset:
    """Aligned samples of several modalities (row i of every modality is the same object).

    Attributes:
        data: by modality name (see ``MODALITIES``) its samples, a tensor with the batch first or,
            for ``text``, a list of captions.
        labels: by label column, int64 ``[N]`` class indices into ``classes[column]``.
        name, split: the spec and ``"train"`` / ``"test"``.
        bad_files: ``"FILE (row at line L): reason"`` of each row skipped for an unusable file.
        sample_rate: of the audio (Hz), where there is audio.
    """

    data: dict[str, Tensor | list[str]]
    labels: dict[str, Tensor] = field(default_factory=dict)
    classes: dict[str, list[str]] = field(default_factory=dict)
    name: str = "pairs"
    split: str = "train"
    bad_files: list[str] = field(default_factory=list)
    sample_rate: int | None = None

    def __post_init__(self) -> None:
        unknown = [m for m in self.data if m not in MODALITIES]
        if unknown or not self.data:
            raise ValueError(f"modalities must be some of {', '.join(MODALITIES)}, got {list(self.data)}")
        counts = {m: len(v) for m, v in self.data.items()}
        if len(set(counts.values())) != 1:
            raise ValueError(f"every modality needs the same number of samples, got {counts}")
        for column, y in self.labels.items():
            if len(y) != len(self):
                raise ValueError(f"labels[{column!r}] has {len(y)} entries for {len(self)} samples")

    @property
    def modalities(self) -> tuple[str, ...]:
        return tuple(self.data)

    def __len__(self) -> int:
        return len(next(iter(self.data.values())))

    def take(self, idx: Tensor) -> tuple[Tensor | list[str], ...]:
        """Samples ``idx`` (int64 ``[B]``) of each modality, in ``modalities`` order."""
        rows = idx.tolist()
        return tuple([v[i] for i in rows] if isinstance(v, list) else v[idx] for v in self.data.values())

    def subset(self, modalities: tuple[str, ...] | list[str]) -> PairedDataset:
        """The same samples with only ``modalities`` (in that order); shares the tensors."""
        missing = [m for m in modalities if m not in self.data]
        if missing:
            raise ValueError(f"{self.name} has no modality {', '.join(missing)} (it has {', '.join(self.data)})")
        return PairedDataset(data={m: self.data[m] for m in modalities}, labels=self.labels,
                             classes=self.classes, name=self.name, split=self.split,
                             bad_files=self.bad_files, sample_rate=self.sample_rate)


def stack(arrays: list, dtype: torch.dtype) -> Tensor:
    """``[N, ...]`` tensor of equally shaped numpy arrays."""
    return torch.stack([torch.as_tensor(a) for a in arrays]).to(dtype)
