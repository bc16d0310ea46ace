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

    def __init__(self, model_dir: Path, threads: int, batch_size: int = 32) -> None:
        model_path = model_dir / "model.onnx"
        if not model_path.exists():
            raise FileNotFoundError(
                f"embedding model not found at {model_path}; run `ragcore model export` first"
            )
        self._tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self._tokenizer.enable_truncation(MAX_TOKENS)
        self._tokenizer.enable_padding()
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(
            str(model_path), sess_options=options, providers=["CPUExecutionProvider"]
        )
        self._batch_size = batch_size

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        # A batch is padded to its longest text, so texts of similar length are batched
        # together (as sentence-transformers does) and put back in order afterwards.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        vectors: list[list[float]] = [[] for _ in texts]
        for start in range(0, len(order), self._batch_size):
            chosen = order[start : start + self._batch_size]
            for i, vector in zip(chosen, self._embed_batch([texts[i] for i in chosen]).tolist()):
                vectors[i] = vector
        return vectors

    def _embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        encodings = self._tokenizer.encode_batch(list(texts))
        input_ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        type_ids = np.array([e.type_ids for e in encodings], dtype=np.int64)
        (hidden,) = self._session.run(
            None, {"input_ids": input_ids, "attention_mask": mask, "token_type_ids": type_ids}
        )
        summed = (hidden * mask[..., None]).sum(axis=1)
        pooled = summed / np.clip(mask.sum(axis=1, keepdims=True), 1, None)
        return pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
