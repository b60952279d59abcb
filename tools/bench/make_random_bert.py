#!/usr/bin/python3
"""Write a BERT checkpoint with random weights for speed comparisons.

The default shape is bge-base's (12 layers, hidden 768, 12 heads, intermediate
3072, 512 positions, the 30522-token uncased WordPiece vocabulary). Weights are
float32, drawn from N(0, 0.02) like BERT's initializer, LayerNorm gains near 1.
The folder gets config.json, model.safetensors, the tokenizer.json given on the
command line and sentence-transformers metadata (mean pooling, normalised), so
sie loads it as a directory and tools/onnx/export_bert.py exports the same
weights to ONNX.

Usage
  make_random_bert.py OUT_DIR --tokenizer tokenizer.json [--layers 12 --hidden 768
                      --heads 12 --intermediate 3072 --max-seq-length 512 --seed 0]
"""

import argparse
import json
import os
import shutil
import struct

import numpy as np


def tensors(rng, a):
    h, inter = a.hidden, a.intermediate
    out = {}

    def normal(*shape):
        return (rng.standard_normal(shape, dtype=np.float32) * 0.02).astype(np.float32)

    def norm(prefix):
        out[prefix + ".weight"] = (1 + normal(h)).astype(np.float32)
        out[prefix + ".bias"] = normal(h)

    def linear(prefix, n_in, n_out):
        out[prefix + ".weight"] = normal(n_out, n_in)  # torch's [out, in]
        out[prefix + ".bias"] = normal(n_out)

    out["embeddings.word_embeddings.weight"] = normal(a.vocab, h)
    out["embeddings.position_embeddings.weight"] = normal(a.positions, h)
    out["embeddings.token_type_embeddings.weight"] = normal(2, h)
    norm("embeddings.LayerNorm")
    for i in range(a.layers):
        p = f"encoder.layer.{i}."
        for n in ("query", "key", "value"):
            linear(p + "attention.self." + n, h, h)
        linear(p + "attention.output.dense", h, h)
        norm(p + "attention.output.LayerNorm")
        linear(p + "intermediate.dense", h, inter)
        linear(p + "output.dense", inter, h)
        norm(p + "output.LayerNorm")
    return out


def write_safetensors(path, ts):
    header, offset = {}, 0
    for name in sorted(ts):
        nbytes = ts[name].nbytes
        header[name] = {"dtype": "F32", "shape": list(ts[name].shape), "data_offsets": [offset, offset + nbytes]}
        offset += nbytes
    blob = json.dumps(header, separators=(",", ":")).encode()
    blob += b" " * (-len(blob) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(blob)))
        f.write(blob)
        for name in sorted(ts):
            f.write(np.ascontiguousarray(ts[name], dtype="<f4").tobytes())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--tokenizer", required=True)
    ap.add_argument("--layers", type=int, default=12)
    ap.add_argument("--hidden", type=int, default=768)
    ap.add_argument("--heads", type=int, default=12)
    ap.add_argument("--intermediate", type=int, default=3072)
    ap.add_argument("--positions", type=int, default=512)
    ap.add_argument("--vocab", type=int, default=30522)
    ap.add_argument("--max-seq-length", type=int, default=512)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()

    os.makedirs(os.path.join(a.out, "1_Pooling"), exist_ok=True)
    config = {
        "architectures": ["BertModel"], "model_type": "bert", "hidden_act": "gelu",
        "hidden_size": a.hidden, "num_hidden_layers": a.layers, "num_attention_heads": a.heads,
        "intermediate_size": a.intermediate, "max_position_embeddings": a.positions,
        "vocab_size": a.vocab, "type_vocab_size": 2, "layer_norm_eps": 1e-12, "pad_token_id": 0,
        "position_embedding_type": "absolute", "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1, "initializer_range": 0.02,
    }
    files = {
        "config.json": config,
        "modules.json": [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
        ],
        "sentence_bert_config.json": {"max_seq_length": a.max_seq_length, "do_lower_case": False},
        "1_Pooling/config.json": {"word_embedding_dimension": a.hidden, "pooling_mode_cls_token": False,
                                  "pooling_mode_mean_tokens": True, "pooling_mode_max_tokens": False,
                                  "pooling_mode_mean_sqrt_len_tokens": False},
    }
    for name, obj in files.items():
        with open(os.path.join(a.out, name), "w") as f:
            json.dump(obj, f, indent=2)
    shutil.copyfile(a.tokenizer, os.path.join(a.out, "tokenizer.json"))
    write_safetensors(os.path.join(a.out, "model.safetensors"), tensors(np.random.default_rng(a.seed), a))


if __name__ == "__main__":
    main()
