"""Turning one stored shard sample into pixels, a label or captions, or rejecting it as bad."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simclip import imageio
from simclip.data.class_captions import class_captions, digit_captions
from simclip.data.decode import decode_square
from simclip.data.shards.tar_samples import CAPTION_FIELD, IMAGE_FIELDS, LABEL_FIELD, RawSample
from simclip.errors import SimclipError


class BadSample(SimclipError, ValueError):
    """A sample that cannot be used: no or an undecodable image, a missing or invalid label or
    caption. The message gives the reason; the reader adds the shard and key."""


@dataclass(frozen=True)
class SampleFormat:
    """What the samples of a sharded dataset hold and what a reader makes of them.

    Attributes:
        classes: class names; labels index them.
        channels: 1 or 3; images are converted to L or RGB.
        image_size: square side; images of another size are resized (shorter side) and
            centre-cropped, as image files are (``decode.decode_square``).
        labelled: every sample must carry a ``.cls`` label.
        captioned: samples carry ``.txt`` captions, one per line.
        digit_templates: when captions come from labels, phrase them as digits.
    """

    classes: tuple[str, ...]
    channels: int
    image_size: int
    labelled: bool
    captioned: bool
    digit_templates: bool = False

    def label(self, sample: RawSample) -> int | None:
        """The class index of ``sample`` (None when the dataset is unlabelled)."""
        if not self.labelled:
            return None
        raw = sample.fields.get(LABEL_FIELD)
        if raw is None:
            raise BadSample(f"no .{LABEL_FIELD} label")
        try:
            value = int(raw.decode("ascii").strip())
        except (UnicodeDecodeError, ValueError):
            raise BadSample(f".{LABEL_FIELD} label {raw[:20]!r} is not an integer") from None
        if not 0 <= value < len(self.classes):
            raise BadSample(f".{LABEL_FIELD} label {value} is outside 0..{len(self.classes) - 1}")
        return value

    def captions(self, sample: RawSample) -> list[str]:
        """The non-empty captions of ``sample``: its ``.txt`` lines, or its class's phrasings."""
        if not self.captioned:
            label = self.label(sample)
            if label is None:
                raise BadSample(f"no .{CAPTION_FIELD} caption and no class to make one from")
            name = self.classes[label]
            return digit_captions(int(name)) if self.digit_templates else class_captions(name)
        raw = sample.fields.get(CAPTION_FIELD)
        if raw is None:
            raise BadSample(f"no .{CAPTION_FIELD} captions")
        try:
            lines = [line.strip() for line in raw.decode("utf-8").splitlines()]
        except UnicodeDecodeError:
            raise BadSample(f".{CAPTION_FIELD} captions are not UTF-8") from None
        lines = [line for line in lines if line]
        if not lines:
            raise BadSample(f".{CAPTION_FIELD} holds no caption")
        return lines

    def pixels(self, sample: RawSample) -> np.ndarray:
        """uint8 ``[image_size, image_size, channels]``."""
        field = sample.image_field()
        if field is None:
            raise BadSample(f"no image (none of the fields {', '.join(IMAGE_FIELDS)})")
        try:
            return decode_square(sample.fields[field], self.image_size, self.channels, name=f".{field}")
        except imageio.ImageDecodeError as err:
            raise BadSample(str(err)) from None
