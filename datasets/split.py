"""Train/validation/test split by record, so no person's beats sit on two sides (the seed's leak)."""
from __future__ import annotations

from collections import defaultdict

import numpy as np

SPLITS = ("train", "val", "test")


def split_records(
    records: list[int],
    rhythms: dict[int, str],
    fractions: tuple[float, float, float] = (0.8, 0.1, 0.1),
    seed: int = 0,
    stratify: bool = True,
) -> dict[int, str]:
    """Assign each record id to 'train', 'val' or 'test', deterministically from `seed`.

    Split sizes are round(N * fraction) for val and test, the rest train. With `stratify`, each
    rhythm's records (shuffled) are spread evenly along one global order before it is cut, so every
    split gets about its share of each rhythm and rare rhythms are not all drawn to one side by
    chance. (Rounding each rhythm's share on its own would leave small splits empty.)
    """
    groups: dict[str, list[int]] = defaultdict(list)
    for rec in sorted(records):
        groups[rhythms.get(rec, "Unknown") if stratify else "all"].append(rec)
    rng = np.random.default_rng(seed)
    keyed = []
    for key in sorted(groups):
        ids = rng.permutation(groups[key]).tolist()
        # Position in (0, 1) of the i-th record of its group, randomly offset so that groups of
        # equal size do not always put their first record at the same place.
        offset = rng.uniform(0, 1)
        keyed += [((i + offset) / len(ids), rng.uniform(), int(rec)) for i, rec in enumerate(ids)]
    order = [rec for _, _, rec in sorted(keyed)]
    n = len(order)
    n_val, n_test = round(n * fractions[1]), round(n * fractions[2])
    n_train = n - n_val - n_test
    return {rec: "train" if i < n_train else "val" if i < n_train + n_val else "test" for i, rec in enumerate(order)}
