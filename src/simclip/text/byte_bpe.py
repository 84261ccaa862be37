"""Byte-level byte-pair encoding (Sennrich et al. 2016; byte-level form of Radford et al. 2019).

Text is turned into UTF-8 bytes and every byte into one printable character, so that a merge table over
characters covers every possible input without an unknown token. A word is split into those characters
(the last one carrying the end-of-word marker ``</w>``) and the merges are applied in rank order.
"""

from __future__ import annotations

from functools import lru_cache

END_OF_WORD = "</w>"


@lru_cache(maxsize=1)
def byte_to_char() -> dict[int, str]:
    """The reversible map from the 256 byte values to printable Unicode characters.

    Printable Latin-1 bytes map to themselves; the others (control characters, space, ...) map to the
    code points 256, 257, ... in byte order, so no merge ever involves whitespace or control codes.
    The dict's order (printable bytes first, then the others) is the order of the first 256 token ids.
    """
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1),
                 *range(ord("®"), ord("ÿ") + 1)]
    table = {b: chr(b) for b in printable}
    extra = 0
    for b in range(256):
        if b not in table:
            table[b] = chr(256 + extra)
            extra += 1
    return table


def apply_merges(word: str, ranks: dict[tuple[str, str], int]) -> list[str]:
    """Split ``word`` (already mapped through :func:`byte_to_char`) into BPE symbols.

    The end-of-word marker is glued to the last character, then the adjacent pair of lowest rank is
    merged everywhere (left to right, non-overlapping) until no adjacent pair has a rank.
    """
    symbols = [*word[:-1], word[-1] + END_OF_WORD]
    while len(symbols) > 1:
        best, best_rank = None, None
        for pair in zip(symbols, symbols[1:]):
            rank = ranks.get(pair)
            if rank is not None and (best_rank is None or rank < best_rank):
                best, best_rank = pair, rank
        if best is None:
            break
        symbols = _merge_pair(symbols, best)
    return symbols


def _merge_pair(symbols: list[str], pair: tuple[str, str]) -> list[str]:
    first, second = pair
    merged: list[str] = []
    i = 0
    while i < len(symbols):
        if i + 1 < len(symbols) and symbols[i] == first and symbols[i + 1] == second:
            merged.append(first + second)
            i += 2
        else:
            merged.append(symbols[i])
            i += 1
    return merged
