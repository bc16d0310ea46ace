"""all-MiniLM-L6-v2 run with onnxruntime + tokenizers.

PyTorch is far too big for a Lambda layer, so the model is exported to ONNX once at build
time (``ragcore model export``) and run here with the same tokenizer and the same pooling
(mean over tokens, then L2 normalisation) as sentence-transformers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

MAX_TOKENS = 256  # the model's own max_seq_length (sentence_bert_config.json)
DIMENSION = 384


class OnnxEmbedder:
    """Implements ``ports.Embedder``."""

    dimension = DIMENSION

    def __init__(self, model_dir: Path, threads: int) -> None:
        model_path = model_dir / "model.onnx"
        if not model_path.exists():
            raise FileNotFoundError(
                f"embedding model not found at {model_path}; run `ragcore model export` first"
            )
        self._tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self._tokenizer.enable_truncation(MAX_TOKENS)
        self._tokenizer.no_padding()  # tokenizer.json pads every text to 128; texts run alone
        options = ort.SessionOptions()
        # Set on purpose: ``threads`` for the one intra-op pool (EMBEDDER_THREADS: 2 in the
        # ingest function, the machine's 2 cores; 1 for the chat worker, whose records run
        # side by side), one inter-op thread (the graph is a chain), full graph optimisation.
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self._session = ort.InferenceSession(
            str(model_path), sess_options=options, providers=["CPUExecutionProvider"]
        )

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        # One text per run. The model's int8 MatMuls scale their input per run (dynamic
        # quantisation), so in a batch a text's vector would depend on its batch mates (cosine
        # down to 0.990 on SciFact chunks); alone it depends on the text only, and needs no
        # padding. int8 runs at 0.84x of its speed in batches of 32, still 1.4x float32's
        # (docs/PERFORMANCE.md, section 5).
        encodings = self._tokenizer.encode_batch(list(texts))
        return [self._embed_one(encoding.ids).tolist() for encoding in encodings]

    def _embed_one(self, ids: list[int]) -> np.ndarray:
        input_ids = np.array([ids], dtype=np.int64)
        (hidden,) = self._session.run(
            None,
            {"input_ids": input_ids, "attention_mask": np.ones_like(input_ids),
             "token_type_ids": np.zeros_like(input_ids)},
        )
        pooled = hidden[0].mean(axis=0)  # no padding: every position is a token
        return pooled / max(float(np.linalg.norm(pooled)), 1e-12)
