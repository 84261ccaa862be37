"""Image-text retrieval recall@k (the CLIP paper's Flickr30k / MS-COCO protocol, Table 13).

Images and captions are ranked by cosine similarity. Image->text: a query image scores a hit at k
if ANY of its captions is among the k most similar texts. Text->image: a caption scores a hit if its
one image is among the k most similar images. A tie with the correct item counts in its favour
(rank = number of strictly more similar items), which makes the result independent of sort order.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from simclip.eval._checks import check_features, check_labels, check_positive_int


def _check_ks(ks: Sequence[int]) -> tuple[int, ...]:
    if isinstance(ks, int) or not isinstance(ks, Iterable):
        raise TypeError(f"ks must be a sequence of ints, got {type(ks).__name__}")
    ks = tuple(ks)
    if not ks:
        raise ValueError("ks is empty")
    return tuple(check_positive_int("ks entry", k) for k in ks)


def retrieval_recall(
    image_features: Tensor,
    text_features: Tensor,
    text_to_image: Tensor,
    ks: Sequence[int] = (1, 5, 10),
    batch_size: int = 1024,
) -> dict[str, float]:
    """Recall@k both ways, in percent.

    Args:
        image_features: ``[N, E]``.
        text_features: ``[M, E]``, every image having at least one caption.
        text_to_image: int ``[M]``, the index in ``[0, N)`` of each caption's image.
        ks: cut-offs; each gives ``image_to_text_R@k`` and ``text_to_image_R@k``.
        batch_size: query rows per similarity block, so memory is ``batch_size * max(N, M)``.
    """
    images = F.normalize(check_features("image_features", image_features), dim=1)
    texts = F.normalize(check_features("text_features", text_features, dim=images.shape[1]), dim=1)
    owner = check_labels("text_to_image", text_to_image, texts.shape[0], images.shape[0])
    ks = _check_ks(ks)
    check_positive_int("batch_size", batch_size)
    captioned = torch.zeros(images.shape[0], dtype=torch.bool).index_fill_(0, owner, True)
    if not captioned.all():
        first = int((~captioned).nonzero()[0])
        raise ValueError(f"text_to_image gives no caption to image {first}; every image needs one")

    image_ranks = []
    for start, block in zip(range(0, images.shape[0], batch_size), images.split(batch_size)):
        sims = block @ texts.T
        own = owner[None, :] == torch.arange(start, start + block.shape[0])[:, None]
        best_own = sims.masked_fill(~own, float("-inf")).amax(dim=1, keepdim=True)
        image_ranks.append((sims > best_own).sum(dim=1))
    text_ranks = []
    for block, targets in zip(texts.split(batch_size), owner.split(batch_size)):
        sims = block @ images.T
        correct = sims.gather(1, targets[:, None])
        text_ranks.append((sims > correct).sum(dim=1))

    image_rank, text_rank = torch.cat(image_ranks), torch.cat(text_ranks)
    result = {}
    for k in ks:
        result[f"image_to_text_R@{k}"] = float((image_rank < k).double().mean() * 100.0)
        result[f"text_to_image_R@{k}"] = float((text_rank < k).double().mean() * 100.0)
    return result

