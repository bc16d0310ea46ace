"""Ranking metrics as BEIR reports them (trec_eval definitions: linear gain, log2 discount).

Written here rather than taken from pytrec_eval/beir: those pull a C extension or torch into
the package for three short formulas, which the unit tests check against hand-computed values.
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence


def ndcg_at_k(ranking: Sequence[str], relevance: Mapping[str, int], k: int) -> float:
    dcg = sum(relevance.get(doc, 0) / math.log2(rank + 2) for rank, doc in enumerate(ranking[:k]))
    ideal = sorted((g for g in relevance.values() if g > 0), reverse=True)[:k]
    idcg = sum(gain / math.log2(rank + 2) for rank, gain in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def recall_at_k(ranking: Sequence[str], relevance: Mapping[str, int], k: int) -> float:
    relevant = {doc for doc, gain in relevance.items() if gain > 0}
    return len(relevant.intersection(ranking[:k])) / len(relevant) if relevant else 0.0
