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
        # tokenizer.json pads every text to 128; batches are padded here instead, each to its
        # own longest text (see ``embed``).
        self._tokenizer.no_padding()
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
        self._batch_size = batch_size

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        # A batch is padded to its longest text, so texts are batched in order of their token
        # count (not their length in characters, which on SciFact left 39% of the computed
        # positions as padding; by tokens it is 3% for a call of 1,024 chunks) and put back in
        # order afterwards. Each text is tokenised once.
        encodings = self._tokenizer.encode_batch(list(texts))
        lengths = [len(e.ids) for e in encodings]
        order = sorted(range(len(texts)), key=lengths.__getitem__)
        vectors: list[list[float]] = [[] for _ in texts]
        for start in range(0, len(order), self._batch_size):
            chosen = order[start : start + self._batch_size]
            batch = self._embed_batch([encodings[i].ids for i in chosen], max(lengths[i] for i in chosen))
            for i, vector in zip(chosen, batch.tolist()):
                vectors[i] = vector
        return vectors

    def _embed_batch(self, ids: Sequence[list[int]], width: int) -> np.ndarray:
        input_ids = np.zeros((len(ids), width), dtype=np.int64)  # [PAD] is id 0
        mask = np.zeros((len(ids), width), dtype=np.int64)
        for row, text_ids in enumerate(ids):
            input_ids[row, : len(text_ids)] = text_ids
            mask[row, : len(text_ids)] = 1
        (hidden,) = self._session.run(
            None, {"input_ids": input_ids, "attention_mask": mask, "token_type_ids": np.zeros_like(input_ids)}
        )
        summed = (hidden * mask[..., None]).sum(axis=1)
        pooled = summed / np.clip(mask.sum(axis=1, keepdims=True), 1, None)
        return pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
