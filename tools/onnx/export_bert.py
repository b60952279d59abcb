#!/usr/bin/python3
"""Build an ONNX graph of a BERT encoder from a checkpoint directory.

The checkpoint directory holds a Hugging Face style config.json and one
safetensors file. Weights are read with numpy alone (no torch, no safetensors
package) and stored as float32 initializers; half-precision weights are
up-cast. Runs under Debian bookworm's /usr/bin/python3 with python3-onnx (1.12)
and python3-numpy.

Graph
  inputs : input_ids, attention_mask, token_type_ids   int64 [batch, sequence]
  outputs: last_hidden_state  float32 [batch, sequence, hidden]
           sentence_embedding float32 [batch, hidden]   mean pooling over the
                                attention mask, then L2 normalisation
  (the BERT pooler, pooler.dense.*, is not exported: sentence encoders do not use it)

Maths (post-norm BERT):
  e = LN(word[ids] + pos[0..T-1] + type[tt])
  per layer:  a = softmax(Q K^T / sqrt(d) + (1 - mask) * finfo(f32).min) V
              x = LN(x + a Wo + bo)
              x = LN(x + gelu_erf(x W1 + b1) W2 + b2)
  mean = sum_t(h * mask) / max(sum_t(mask), 1e-9);  emb = mean / max(||mean||, 1e-12)

Usage
  export_bert.py CHECKPOINT_DIR -o model.onnx [--weights FILE] [--opset N]
  export_bert.py CHECKPOINT_DIR -o model.onnx --check [--golden golden.json]

--check validates the graph with onnx.checker and then runs the numerical
comparison against the golden vectors with onnxruntime-node
(tools/bench/ort_check.js), because python3-onnx cannot execute a graph.
"""

import argparse
import json
import math
import os
import shutil
import struct
import subprocess
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DEFAULT_GOLDEN = os.path.normpath(
    os.path.join(REPO_ROOT, "..", "shared", "fixtures", "real-minilm", "golden.json"))

# ---------------------------------------------------------------------------
# safetensors reader: u64 little-endian header size, JSON header, raw bytes.
# ---------------------------------------------------------------------------

_ST_DTYPES = {
    "F64": np.dtype("<f8"), "F32": np.dtype("<f4"), "F16": np.dtype("<f2"),
    "I64": np.dtype("<i8"), "I32": np.dtype("<i4"), "I16": np.dtype("<i2"),
    "I8": np.dtype("i1"), "U8": np.dtype("u1"), "BOOL": np.dtype("?"),
    "BF16": np.dtype("<u2"),  # widened to float32 by hand below
}


def read_safetensors(path):
    """Return {name: numpy array}; floating tensors come back as float32."""
    with open(path, "rb") as f:
        blob = f.read()
    if len(blob) < 8:
        raise ValueError(f"{path}: too short for a safetensors file")
    (hlen,) = struct.unpack("<Q", blob[:8])
    if 8 + hlen > len(blob):
        raise ValueError(f"{path}: header length {hlen} exceeds file size")
    header = json.loads(blob[8:8 + hlen].decode("utf-8"))
    base = 8 + hlen
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dt = info["dtype"]
        if dt not in _ST_DTYPES:
            raise ValueError(f"{path}: tensor {name}: unsupported dtype {dt}")
        start, end = info["data_offsets"]
        shape = tuple(info["shape"])
        npdt = _ST_DTYPES[dt]
        count = int(np.prod(shape, dtype=np.int64)) if shape else 1
        if end - start != count * npdt.itemsize:
            raise ValueError(f"{path}: tensor {name}: byte range does not match shape {shape}")
        arr = np.frombuffer(blob, dtype=npdt, count=count, offset=base + start).reshape(shape)
        if dt == "BF16":
            arr = (arr.astype(np.uint32) << 16).view(np.float32)
        elif arr.dtype.kind == "f":
            arr = arr.astype(np.float32)
        else:
            arr = arr.copy()
        out[name] = arr
    return out


def find_weights(ckpt, explicit):
    if explicit:
        p = explicit if os.path.isabs(explicit) else os.path.join(ckpt, explicit)
        return p
    for cand in ("model.safetensors", "model.fp16.safetensors"):
        p = os.path.join(ckpt, cand)
        if os.path.exists(p):
            return p
    found = sorted(f for f in os.listdir(ckpt) if f.endswith(".safetensors"))
    if len(found) != 1:
        raise SystemExit(f"{ckpt}: expected exactly one .safetensors file, found {found}; use --weights")
    return os.path.join(ckpt, found[0])


# ---------------------------------------------------------------------------
# Graph builder
# ---------------------------------------------------------------------------


class Graph:
    def __init__(self):
        self.nodes = []
        self.inits = []
        self._n = 0

    def name(self, hint):
        self._n += 1
        return f"{hint}_{self._n}"

    def const(self, hint, array):
        n = self.name(hint)
        self.inits.append(numpy_helper.from_array(np.asarray(array), n))
        return n

    def weight(self, name, array):
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(array, dtype=np.float32), name))
        return name

    def op(self, op_type, inputs, hint=None, **attrs):
        out = self.name(hint or op_type.lower())
        self.nodes.append(helper.make_node(op_type, inputs, [out], name=out, **attrs))
        return out


class BertExporter:
    def __init__(self, cfg, tensors, opset):
        self.cfg = cfg
        self.opset = opset
        self.t = {self._strip(k): v for k, v in tensors.items()}
        self.g = Graph()
        self.H = int(cfg["hidden_size"])
        self.heads = int(cfg["num_attention_heads"])
        if self.H % self.heads:
            raise SystemExit("hidden_size is not a multiple of num_attention_heads")
        self.dh = self.H // self.heads
        self.eps = float(cfg.get("layer_norm_eps", 1e-12))
        self.act = cfg.get("hidden_act", "gelu")
        if self.act not in ("gelu", "gelu_new", "gelu_pytorch_tanh"):
            raise SystemExit(f"unsupported hidden_act {self.act!r}")
        pet = cfg.get("position_embedding_type", "absolute")
        if pet != "absolute":
            raise SystemExit(f"unsupported position_embedding_type {pet!r}")

    @staticmethod
    def _strip(name):
        return name[len("bert."):] if name.startswith("bert.") else name

    def w(self, name):
        if name not in self.t:
            raise SystemExit(f"missing tensor {name!r} in checkpoint")
        return self.t[name]

    # -- building blocks ---------------------------------------------------

    def layer_norm(self, x, prefix):
        g = self.g
        gamma = g.weight(prefix + ".weight", self.w(prefix + ".weight"))
        beta = g.weight(prefix + ".bias", self.w(prefix + ".bias"))
        if self.opset >= 17:
            return g.op("LayerNormalization", [x, gamma, beta], "ln", axis=-1, epsilon=self.eps)
        # Decomposed form for older opsets.
        mean = g.op("ReduceMean", [x], "ln_mean", axes=[-1], keepdims=1)
        xc = g.op("Sub", [x, mean], "ln_center")
        var = g.op("ReduceMean", [g.op("Mul", [xc, xc])], "ln_var", axes=[-1], keepdims=1)
        eps = g.const("ln_eps", np.array(self.eps, np.float32))
        inv = g.op("Sqrt", [g.op("Add", [var, eps])], "ln_std")
        y = g.op("Div", [xc, inv], "ln_norm")
        return g.op("Add", [g.op("Mul", [y, gamma]), beta], "ln_out")

    def linear(self, x, prefix):
        """x @ W^T + b with W stored as [out, in] in the checkpoint."""
        g = self.g
        wt = g.weight(prefix + ".weight_t", self.w(prefix + ".weight").T)  # [in, out]
        b = g.weight(prefix + ".bias", self.w(prefix + ".bias"))
        return g.op("Add", [g.op("MatMul", [x, wt], "mm"), b], "lin")

    def gelu(self, x):
        g = self.g
        half = g.const("half", np.array(0.5, np.float32))
        one = g.const("one", np.array(1.0, np.float32))
        if self.act == "gelu":  # exact: 0.5 x (1 + erf(x / sqrt 2))
            inv_sqrt2 = g.const("inv_sqrt2", np.array(1.0 / math.sqrt(2.0), np.float32))
            inner = g.op("Erf", [g.op("Mul", [x, inv_sqrt2])], "erf")
        else:  # tanh approximation
            c = g.const("gelu_c", np.array(math.sqrt(2.0 / math.pi), np.float32))
            k = g.const("gelu_k", np.array(0.044715, np.float32))
            x3 = g.op("Mul", [g.op("Mul", [x, x]), x])
            poly = g.op("Add", [x, g.op("Mul", [x3, k])])
            inner = g.op("Tanh", [g.op("Mul", [poly, c])])
        return g.op("Mul", [g.op("Mul", [x, half]), g.op("Add", [inner, one])], "gelu")

    def attention(self, x, mask_add, prefix):
        g = self.g
        heads_shape = g.const("heads_shape", np.array([0, 0, self.heads, self.dh], np.int64))
        merge_shape = g.const("merge_shape", np.array([0, 0, self.H], np.int64))

        def split(t, perm):  # [B,T,H] -> [B,T,nh,dh] -> permuted
            return g.op("Transpose", [g.op("Reshape", [t, heads_shape])], "split", perm=perm)

        q = split(self.linear(x, prefix + ".self.query"), [0, 2, 1, 3])  # [B,nh,T,dh]
        k = split(self.linear(x, prefix + ".self.key"), [0, 2, 3, 1])    # [B,nh,dh,T]
        v = split(self.linear(x, prefix + ".self.value"), [0, 2, 1, 3])  # [B,nh,T,dh]
        scale = g.const("sqrt_dh", np.array(math.sqrt(self.dh), np.float32))
        scores = g.op("Div", [g.op("MatMul", [q, k], "qk"), scale], "scores")
        scores = g.op("Add", [scores, mask_add], "masked")
        probs = g.op("Softmax", [scores], "probs", axis=-1)
        ctx = g.op("MatMul", [probs, v], "ctx")                            # [B,nh,T,dh]
        ctx = g.op("Transpose", [ctx], "ctx_t", perm=[0, 2, 1, 3])        # [B,T,nh,dh]
        ctx = g.op("Reshape", [ctx, merge_shape], "ctx_merge")            # [B,T,H]
        out = self.linear(ctx, prefix + ".output.dense")
        return self.layer_norm(g.op("Add", [out, x], "res"), prefix + ".output.LayerNorm")

    def ffn(self, x, prefix):
        g = self.g
        h = self.gelu(self.linear(x, prefix + ".intermediate.dense"))
        out = self.linear(h, prefix + ".output.dense")
        return self.layer_norm(g.op("Add", [out, x], "res"), prefix + ".output.LayerNorm")

    # -- whole model -------------------------------------------------------

    def build(self):
        g = self.g
        cfg = self.cfg
        n_layers = int(cfg["num_hidden_layers"])

        # Embeddings.
        word = g.weight("embeddings.word_embeddings.weight", self.w("embeddings.word_embeddings.weight"))
        pos = g.weight("embeddings.position_embeddings.weight", self.w("embeddings.position_embeddings.weight"))
        typ = g.weight("embeddings.token_type_embeddings.weight",
                       self.w("embeddings.token_type_embeddings.weight"))
        ids_shape = g.op("Shape", ["input_ids"], "ids_shape")
        seq_len = g.op("Slice", [ids_shape, g.const("i1", np.array([1], np.int64)),
                                 g.const("i2", np.array([2], np.int64))], "seq_len")  # [T] as 1-D
        pos_rows = g.op("Slice", [pos, g.const("zero", np.array([0], np.int64)), seq_len,
                                  g.const("axis0", np.array([0], np.int64))], "pos_rows")  # [T,H]
        e = g.op("Gather", [word, "input_ids"], "word_emb", axis=0)
        e = g.op("Add", [e, pos_rows], "add_pos")
        e = g.op("Add", [e, g.op("Gather", [typ, "token_type_ids"], "type_emb", axis=0)], "add_type")
        x = self.layer_norm(e, "embeddings.LayerNorm")

        # Additive attention mask [B,1,1,T]: 0 where attended, finfo(f32).min where padded.
        mask_f = g.op("Cast", ["attention_mask"], "mask_f", to=TensorProto.FLOAT)
        one = g.const("one", np.array(1.0, np.float32))
        neg = g.const("neg_big", np.array(np.finfo(np.float32).min, np.float32))
        mask_add = g.op("Mul", [g.op("Sub", [one, mask_f], "inv_mask"), neg], "mask_add")
        mask_add = g.op("Unsqueeze", [mask_add, g.const("ax12", np.array([1, 2], np.int64))], "mask_4d")

        for i in range(n_layers):
            p = f"encoder.layer.{i}"
            x = self.attention(x, mask_add, p + ".attention")
            x = self.ffn(x, p)
        g.nodes.append(helper.make_node("Identity", [x], ["last_hidden_state"], name="out_hidden"))

        # Mean pooling over the attention mask, then L2 normalisation.
        m3 = g.op("Unsqueeze", [mask_f, g.const("ax2", np.array([2], np.int64))], "mask_3d")  # [B,T,1]
        ax1 = g.const("ax1", np.array([1], np.int64))
        summed = g.op("ReduceSum", [g.op("Mul", [x, m3], "masked_h"), ax1], "sum_h", keepdims=0)  # [B,H]
        count = g.op("ReduceSum", [m3, ax1], "count", keepdims=0)                                # [B,1]
        count = g.op("Max", [count, g.const("cnt_floor", np.array(1e-9, np.float32))], "count_c")
        mean = g.op("Div", [summed, count], "mean")
        sq = g.op("ReduceSum", [g.op("Mul", [mean, mean]), ax1], "sumsq", keepdims=1)          # [B,1]
        norm = g.op("Max", [g.op("Sqrt", [sq], "l2"), g.const("nrm_floor", np.array(1e-12, np.float32))],
                    "l2_c")
        g.nodes.append(helper.make_node("Div", [mean, norm], ["sentence_embedding"], name="out_embedding"))

        outputs = [
            helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT,
                                          ["batch", "sequence", self.H]),
            helper.make_tensor_value_info("sentence_embedding", TensorProto.FLOAT, ["batch", self.H]),
        ]

        inputs = [helper.make_tensor_value_info(n, TensorProto.INT64, ["batch", "sequence"])
                  for n in ("input_ids", "attention_mask", "token_type_ids")]
        graph = helper.make_graph(g.nodes, "bert_encoder", inputs, outputs, initializer=g.inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", self.opset)],
                                  producer_name="sie-tools-export-bert")
        model.ir_version = min(model.ir_version, 8)  # IR 8 pairs with opset 17 (onnx 1.12)
        return model


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint", help="directory with config.json and a .safetensors file")
    ap.add_argument("-o", "--output", required=True, help="ONNX file to write")
    ap.add_argument("--weights", help="safetensors file name (default: the only one in the directory)")
    ap.add_argument("--opset", type=int, default=None,
                    help="ONNX opset (default: 17 when supported, else the newest available)")
    ap.add_argument("--check", action="store_true",
                    help="after export, run onnx.checker and the onnxruntime-node golden comparison")
    ap.add_argument("--golden", default=DEFAULT_GOLDEN, help="golden.json for --check")
    args = ap.parse_args()

    max_opset = onnx.defs.onnx_opset_version()
    opset = args.opset if args.opset is not None else min(17, max_opset)
    if opset > max_opset:
        raise SystemExit(f"opset {opset} requested, installed onnx {onnx.__version__} supports {max_opset}")

    with open(os.path.join(args.checkpoint, "config.json")) as f:
        cfg = json.load(f)
    wpath = find_weights(args.checkpoint, args.weights)
    tensors = read_safetensors(wpath)
    model = BertExporter(cfg, tensors, opset).build()
    onnx.checker.check_model(model)

    out_dir = os.path.dirname(os.path.abspath(args.output))
    os.makedirs(out_dir, exist_ok=True)
    tmp = args.output + ".tmp"
    onnx.save_model(model, tmp)
    os.replace(tmp, args.output)
    size = os.path.getsize(args.output)
    print(f"wrote {args.output}: opset {opset}, {len(model.graph.node)} nodes, "
          f"{len(model.graph.initializer)} initializers, {size / 1e6:.1f} MB (weights from {wpath})")

    if args.check:
        onnx.checker.check_model(args.output)  # path form also validates the saved file
        node = shutil.which("node")
        if not node:
            raise SystemExit("--check needs node (onnxruntime-node runs the graph)")
        script = os.path.join(REPO_ROOT, "tools", "bench", "ort_check.js")
        rc = subprocess.call([node, script, "--model", args.output, "--golden", args.golden])
        if rc != 0:
            raise SystemExit(f"golden check failed (exit {rc})")


if __name__ == "__main__":
    main()
