"""The metric code against values computed by hand."""

import math

import pytest

from ragcore.evaluation.beir import rank_documents
from ragcore.evaluation.metrics import ndcg_at_k, recall_at_k
from ragcore.domain.answers import Passage


def test_ndcg_hand_computed() -> None:
    # Relevant: a (gain 2) and b (gain 1). Ranking puts b first, a third.
    # DCG = 1/log2(2) + 2/log2(4) = 1 + 1 = 2; IDCG = 2/log2(2) + 1/log2(3) = 2 + 0.63093 = 2.63093
    value = ndcg_at_k(["b", "x", "a"], {"a": 2, "b": 1}, k=10)
    assert value == pytest.approx(2 / (2 + 1 / math.log2(3)))
    assert value == pytest.approx(0.76018, abs=1e-5)


def test_ndcg_edge_cases() -> None:
    assert ndcg_at_k(["a", "b"], {"a": 1}, k=10) == 1.0
    assert ndcg_at_k(["x", "a"], {"a": 1}, k=1) == 0.0  # relevant doc beyond the cut-off
    assert ndcg_at_k(["a"], {"a": 0}, k=10) == 0.0  # judged, but not relevant
    assert ndcg_at_k([], {"a": 1}, k=10) == 0.0


def test_recall_hand_computed() -> None:
    relevance = {"a": 1, "b": 1, "c": 1, "d": 0}
    assert recall_at_k(["a", "x", "d", "c"], relevance, k=10) == pytest.approx(2 / 3)
    assert recall_at_k(["a", "x", "d", "c"], relevance, k=2) == pytest.approx(1 / 3)


def test_a_document_ranks_by_its_best_chunk() -> None:
    def p(doc: str, score: float) -> Passage:
        return Passage(chunk_id=f"{doc}{score}", document_id=doc, title="", source="", text="", score=score)

    assert rank_documents([p("a", 0.9), p("b", 0.8), p("a", 0.7), p("c", 0.6)]) == ["a", "b", "c"]
