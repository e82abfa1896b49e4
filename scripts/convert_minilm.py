#!/usr/bin/env python3
"""Convert a BERT sentence-embedding model (all-MiniLM-L6-v2) to GGUF.

The output is a GGUF file that llama.cpp's `llama-server --embeddings` can
serve: architecture `bert`, mean pooling, non-causal attention, WordPiece
("bert") tokenizer.

Needs only `gguf` (0.19.0), `safetensors` and `numpy` - no torch.

Usage:
    convert_minilm.py MODEL_DIR OUTPUT.gguf

MODEL_DIR is a Hugging Face style directory holding `config.json`,
`model.safetensors` and either `tokenizer.json` or `vocab.txt` (optionally
`1_Pooling/config.json` from sentence-transformers, used to pick the pooling
mode).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file

import gguf

ARCH = gguf.MODEL_ARCH.BERT
ARCH_NAME = gguf.MODEL_ARCH_NAMES[ARCH]

# llama.cpp's WordPiece tokenizer marks the start of a word with U+2581
# ("lower one eighth block"), the same convention SentencePiece uses, while a
# Hugging Face WordPiece vocabulary marks *continuations* with "##".
WORD_START = "\u2581"
CONTINUATION = "##"

# Tensors that have no place in a llama.cpp BERT encoder.
SKIPPED_SUFFIXES = ("embeddings.position_ids",)
SKIPPED_PREFIXES = ("pooler.",)

# GGUF tensor names (without ".weight"/".bias") that must stay F32: llama.cpp
# adds/looks these up in F32 and aborts otherwise.
KEEP_F32 = {
    gguf.TENSOR_NAMES[gguf.MODEL_TENSOR.POS_EMBD],
    gguf.TENSOR_NAMES[gguf.MODEL_TENSOR.TOKEN_TYPES],
}


def fail(msg: str) -> "None":
    print(f"convert_minilm: error: {msg}", file=sys.stderr)
    sys.exit(1)


def load_json(path: Path) -> dict:
    with path.open("r", encoding="utf-8") as fh:
        return json.load(fh)


# ---------------------------------------------------------------- vocabulary

def read_vocab(model_dir: Path) -> tuple[list[str], set[str]]:
    """Return (tokens ordered by id, names of special tokens)."""
    specials: set[str] = set()
    tok_json = model_dir / "tokenizer.json"
    if tok_json.is_file():
        tj = load_json(tok_json)
        model = tj.get("model", {})
        if model.get("type") != "WordPiece":
            fail(f"{tok_json}: expected a WordPiece tokenizer, got {model.get('type')!r}")
        prefix = model.get("continuing_subword_prefix", CONTINUATION)
        if prefix != CONTINUATION:
            fail(f"{tok_json}: unsupported continuing_subword_prefix {prefix!r}")
        vocab: dict[str, int] = model["vocab"]
        for added in tj.get("added_tokens", []):
            vocab.setdefault(added["content"], added["id"])
            if added.get("special"):
                specials.add(added["content"])
    else:
        vocab_txt = model_dir / "vocab.txt"
        if not vocab_txt.is_file():
            fail(f"{model_dir}: neither tokenizer.json nor vocab.txt found")
        vocab = {}
        with vocab_txt.open("r", encoding="utf-8") as fh:
            for i, line in enumerate(fh):
                vocab[line.rstrip("\n")] = i

    stm = model_dir / "special_tokens_map.json"
    if stm.is_file():
        for v in load_json(stm).values():
            specials.add(v["content"] if isinstance(v, dict) else v)
    if not specials:
        specials = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"}

    n = max(vocab.values()) + 1
    tokens: list[str | None] = [None] * n
    for tok, idx in vocab.items():
        if tokens[idx] is not None:
            fail(f"vocabulary id {idx} used twice ({tokens[idx]!r}, {tok!r})")
        tokens[idx] = tok
    missing = [i for i, t in enumerate(tokens) if t is None]
    if missing:
        fail(f"vocabulary has holes, e.g. id {missing[0]}")
    return tokens, specials  # type: ignore[return-value]


def to_llama_vocab(tokens: list[str], specials: set[str]) -> tuple[list[str], list[int]]:
    """Map HF WordPiece pieces to llama.cpp's form and give each a token type."""
    out: list[str] = []
    types: list[int] = []
    for tok in tokens:
        if tok in specials:
            out.append(tok)
            types.append(gguf.TokenType.CONTROL)
        elif tok.startswith(CONTINUATION) and len(tok) > len(CONTINUATION):
            out.append(tok[len(CONTINUATION):])
            types.append(gguf.TokenType.NORMAL)
        else:
            out.append(WORD_START + tok)
            types.append(gguf.TokenType.NORMAL)
    return out, types


# ------------------------------------------------------------------- tensors

def hf_to_gguf_name(name: str, name_map: gguf.TensorNameMap) -> str | None:
    """Return the GGUF name for an HF tensor name, or None to drop it."""
    if name.startswith("bert."):
        name = name[len("bert."):]
    if name.endswith(".gamma"):
        name = name[: -len(".gamma")] + ".weight"
    elif name.endswith(".beta"):
        name = name[: -len(".beta")] + ".bias"
    if name in SKIPPED_SUFFIXES or any(name.endswith(s) for s in SKIPPED_SUFFIXES):
        return None
    if any(name.startswith(p) for p in SKIPPED_PREFIXES):
        return None
    mapped = name_map.get_name(name, try_suffixes=(".weight", ".bias"))
    if mapped is None:
        fail(f"do not know where tensor {name!r} goes in a llama.cpp BERT model")
    return mapped


def target_dtype(gguf_name: str, arr: np.ndarray) -> type:
    base = gguf_name.rsplit(".", 1)[0]
    if arr.ndim != 2 or base in KEEP_F32 or base.endswith("_norm"):
        return np.float32
    return np.float16


# ---------------------------------------------------------------- main work

def pooling_type(model_dir: Path) -> gguf.PoolingType:
    cfg = model_dir / "1_Pooling" / "config.json"
    if not cfg.is_file():
        return gguf.PoolingType.MEAN
    pc = load_json(cfg)
    if pc.get("pooling_mode_mean_tokens"):
        return gguf.PoolingType.MEAN
    if pc.get("pooling_mode_cls_token"):
        return gguf.PoolingType.CLS
    fail(f"{cfg}: unsupported pooling mode {pc}")
    raise AssertionError


def convert(model_dir: Path, out_path: Path, name: str) -> None:
    config = load_json(model_dir / "config.json")
    if config.get("model_type") != "bert":
        fail(f"config.json model_type is {config.get('model_type')!r}, expected 'bert'")
    if config.get("position_embedding_type", "absolute") != "absolute":
        fail("only absolute position embeddings are supported")
    if config.get("hidden_act", "gelu") != "gelu":
        fail(f"unsupported hidden_act {config.get('hidden_act')!r}")

    n_layer = int(config["num_hidden_layers"])
    n_embd = int(config["hidden_size"])
    tokens, specials = read_vocab(model_dir)
    if len(tokens) != int(config["vocab_size"]):
        fail(f"vocabulary has {len(tokens)} tokens but config.json says {config['vocab_size']}")
    llama_tokens, token_types = to_llama_vocab(tokens, specials)
    tok_index = {t: i for i, t in enumerate(tokens)}

    def special_id(tok: str) -> int:
        if tok not in tok_index:
            fail(f"special token {tok} not in vocabulary")
        return tok_index[tok]

    tensors = load_file(str(model_dir / "model.safetensors"))
    name_map = gguf.get_tensor_name_map(ARCH, n_layer)

    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp_path = out_path.with_name(out_path.name + ".part")
    writer = gguf.GGUFWriter(str(tmp_path), ARCH_NAME)

    writer.add_name(name)
    writer.add_context_length(int(config.get("max_position_embeddings", 512)))
    writer.add_embedding_length(n_embd)
    writer.add_feed_forward_length(int(config["intermediate_size"]))
    writer.add_block_count(n_layer)
    writer.add_head_count(int(config["num_attention_heads"]))
    writer.add_layer_norm_eps(float(config.get("layer_norm_eps", 1e-12)))
    writer.add_causal_attention(False)
    writer.add_pooling_type(pooling_type(model_dir))
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_F16)

    writer.add_tokenizer_model("bert")
    writer.add_tokenizer_pre("default")
    writer.add_token_list(llama_tokens)
    writer.add_token_types(token_types)
    writer.add_token_type_count(int(config.get("type_vocab_size", 2)))
    writer.add_bos_token_id(special_id("[CLS]"))
    writer.add_sep_token_id(special_id("[SEP]"))
    writer.add_unk_token_id(special_id("[UNK]"))
    writer.add_pad_token_id(special_id("[PAD]"))
    writer.add_mask_token_id(special_id("[MASK]"))
    writer.add_add_bos_token(True)
    writer.add_add_sep_token(True)

    n_written = 0
    for hf_name in sorted(tensors):
        arr = tensors[hf_name]
        g_name = hf_to_gguf_name(hf_name, name_map)
        if g_name is None:
            continue
        arr = np.ascontiguousarray(arr.astype(target_dtype(g_name, arr)))
        writer.add_tensor(g_name, arr)
        n_written += 1

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    os.replace(tmp_path, out_path)
    size_mb = out_path.stat().st_size / 1e6
    print(f"convert_minilm: wrote {out_path} ({n_written} tensors, {len(tokens)} tokens, {size_mb:.1f} MB)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model_dir", type=Path)
    ap.add_argument("output", type=Path)
    ap.add_argument("--name", default="all-MiniLM-L6-v2")
    args = ap.parse_args()
    if not (args.model_dir / "model.safetensors").is_file():
        fail(f"{args.model_dir}/model.safetensors not found")
    convert(args.model_dir, args.output, args.name)


if __name__ == "__main__":
    main()
