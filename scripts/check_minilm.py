#!/usr/bin/env python3
"""Check the converted all-MiniLM-L6-v2 GGUF against a reference forward pass.

Embeds a few sentences through a running llama-server (`--embeddings`) and
through a small numpy BERT implementation that reads the original
safetensors, then compares them (cosine similarity per sentence) and compares
the server's token ids with a reference WordPiece tokenizer.

Needs only `numpy` and `safetensors` (the converter's environment).

Usage:
    check_minilm.py MODEL_DIR [--url http://127.0.0.1:18081] [--min-cosine 0.999]

Exit status 0 when every sentence reaches the minimum cosine and every token
sequence matches.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import unicodedata
import urllib.request
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file

SENTENCES = [
    "Hello world",
    "The quick brown fox jumps over the lazy dog.",
    "Remind me to call Anna about the tax return tomorrow at 9am!",
    "Unbelievable: tokenisation of naïve café résumés, e.g. Zürich & São Paulo.",
    "Matrix rooms are end-to-end encrypted; the bot reads DMs at 3 AM.",
    "数据 and emoji 🙂 mixed with ASCII text (version 2.0.1).",
    "a " * 200 + "end",
]


# ------------------------------------------------------- reference tokenizer

def _is_punct(ch: str) -> bool:
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def _is_cjk(cp: int) -> bool:
    return (
        0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF
        or 0x2A700 <= cp <= 0x2B73F or 0x2B740 <= cp <= 0x2B81F or 0x2B820 <= cp <= 0x2CEAF
        or 0xF900 <= cp <= 0xFAFF or 0x2F800 <= cp <= 0x2FA1F
    )


class WordPiece:
    """BERT uncased tokenizer (BertNormalizer + BertPreTokenizer + WordPiece)."""

    def __init__(self, vocab: list[str]):
        self.vocab = {t: i for i, t in enumerate(vocab)}
        self.unk = self.vocab["[UNK]"]
        self.cls = self.vocab["[CLS]"]
        self.sep = self.vocab["[SEP]"]

    def _normalize(self, text: str) -> str:
        out = []
        for ch in text:
            cp = ord(ch)
            if cp == 0 or cp == 0xFFFD:
                continue
            cat = unicodedata.category(ch)
            if ch in "\t\n\r " or cat == "Zs":
                out.append(" ")
                continue
            if cat.startswith("C"):
                continue
            if _is_cjk(cp):
                out.append(f" {ch} ")
                continue
            out.append(ch)
        text = "".join(out).lower()
        text = unicodedata.normalize("NFD", text)
        return "".join(ch for ch in text if unicodedata.category(ch) != "Mn")

    def _pre_tokenize(self, text: str) -> list[str]:
        words: list[str] = []
        for chunk in text.split():
            cur = ""
            for ch in chunk:
                if _is_punct(ch):
                    if cur:
                        words.append(cur)
                        cur = ""
                    words.append(ch)
                else:
                    cur += ch
            if cur:
                words.append(cur)
        return words

    def _word_piece(self, word: str) -> list[int]:
        if len(word) > 100:
            return [self.unk]
        ids: list[int] = []
        start = 0
        while start < len(word):
            end = len(word)
            found = None
            while start < end:
                piece = word[start:end]
                if start > 0:
                    piece = "##" + piece
                if piece in self.vocab:
                    found = self.vocab[piece]
                    break
                end -= 1
            if found is None:
                return [self.unk]
            ids.append(found)
            start = end
        return ids

    def encode(self, text: str) -> list[int]:
        ids = [self.cls]
        for word in self._pre_tokenize(self._normalize(text)):
            ids.extend(self._word_piece(word))
        ids.append(self.sep)
        return ids


# --------------------------------------------------------- reference model

_erf = np.frompyfunc(math.erf, 1, 1)


def gelu(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)).astype(np.float64))


def layer_norm(x: np.ndarray, w: np.ndarray, b: np.ndarray, eps: float) -> np.ndarray:
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


class Bert:
    def __init__(self, model_dir: Path):
        self.cfg = json.loads((model_dir / "config.json").read_text())
        raw = load_file(str(model_dir / "model.safetensors"))
        self.t = {
            (k[5:] if k.startswith("bert.") else k): v.astype(np.float64) for k, v in raw.items()
        }

    def embed(self, ids: list[int]) -> np.ndarray:
        t, cfg = self.t, self.cfg
        eps = float(cfg.get("layer_norm_eps", 1e-12))
        n_head = int(cfg["num_attention_heads"])
        d = int(cfg["hidden_size"])
        hd = d // n_head
        n = len(ids)
        x = (
            t["embeddings.word_embeddings.weight"][ids]
            + t["embeddings.position_embeddings.weight"][:n]
            + t["embeddings.token_type_embeddings.weight"][0]
        )
        x = layer_norm(x, t["embeddings.LayerNorm.weight"], t["embeddings.LayerNorm.bias"], eps)

        def lin(name: str, v: np.ndarray) -> np.ndarray:
            return v @ t[name + ".weight"].T + t[name + ".bias"]

        for i in range(int(cfg["num_hidden_layers"])):
            p = f"encoder.layer.{i}."
            q = lin(p + "attention.self.query", x).reshape(n, n_head, hd).transpose(1, 0, 2)
            k = lin(p + "attention.self.key", x).reshape(n, n_head, hd).transpose(1, 0, 2)
            v = lin(p + "attention.self.value", x).reshape(n, n_head, hd).transpose(1, 0, 2)
            s = q @ k.transpose(0, 2, 1) / math.sqrt(hd)
            s = np.exp(s - s.max(-1, keepdims=True))
            s /= s.sum(-1, keepdims=True)
            ctx = (s @ v).transpose(1, 0, 2).reshape(n, d)
            x = layer_norm(
                x + lin(p + "attention.output.dense", ctx),
                t[p + "attention.output.LayerNorm.weight"], t[p + "attention.output.LayerNorm.bias"], eps,
            )
            h = gelu(lin(p + "intermediate.dense", x))
            x = layer_norm(
                x + lin(p + "output.dense", h),
                t[p + "output.LayerNorm.weight"], t[p + "output.LayerNorm.bias"], eps,
            )
        pooled = x.mean(0)
        return pooled / np.linalg.norm(pooled)


# ------------------------------------------------------------------ server

def post(url: str, body: dict) -> dict:
    req = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=60) as resp:
        return json.loads(resp.read())


def read_vocab(model_dir: Path) -> list[str]:
    tj = model_dir / "tokenizer.json"
    if tj.is_file():
        vocab = json.loads(tj.read_text())["model"]["vocab"]
        out = [""] * (max(vocab.values()) + 1)
        for tok, i in vocab.items():
            out[i] = tok
        return out
    return (model_dir / "vocab.txt").read_text(encoding="utf-8").split("\n")[:-1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model_dir", type=Path)
    ap.add_argument("--url", default="http://127.0.0.1:18081")
    ap.add_argument("--min-cosine", type=float, default=0.999)
    args = ap.parse_args()

    tok = WordPiece(read_vocab(args.model_dir))
    bert = Bert(args.model_dir)
    base = args.url.rstrip("/")

    server = post(base + "/v1/embeddings", {"input": SENTENCES, "model": "check"})
    server_vecs = [np.asarray(d["embedding"], dtype=np.float64) for d in sorted(server["data"], key=lambda d: d["index"])]

    ok = True
    worst = 1.0
    for text, sv in zip(SENTENCES, server_vecs):
        ref_ids = tok.encode(text)
        srv_ids = post(base + "/tokenize", {"content": text, "add_special": True})["tokens"]
        same_tokens = srv_ids == ref_ids
        ref = bert.embed(ref_ids)
        cos = float(ref @ sv / (np.linalg.norm(ref) * np.linalg.norm(sv)))
        worst = min(worst, cos)
        good = same_tokens and cos >= args.min_cosine
        ok &= good
        label = text if len(text) <= 50 else text[:47] + "..."
        print(f"{'ok  ' if good else 'FAIL'} cos={cos:.6f} tokens={len(ref_ids):4d} "
              f"{'same' if same_tokens else 'DIFFERENT'}  {label!r}")
        if not same_tokens:
            print(f"     reference: {ref_ids[:40]}\n     server:    {srv_ids[:40]}")
    dim = len(server_vecs[0])
    print(f"{'PASS' if ok else 'FAIL'}: {len(SENTENCES)} sentences, dim {dim}, worst cosine {worst:.6f} "
          f"(minimum {args.min_cosine})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
