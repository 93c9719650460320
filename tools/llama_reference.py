#!/usr/bin/env python3
"""An independent Llama forward in float64, pure Python (no numpy), for the CPU executor's
golden test (tests/runtime/llama_golden_test.cc): it checks the architecture itself (RoPE
pairs and llama3 scaling, GQA head mapping, RMSNorm, SwiGLU, biases, tied embeddings), which
the paged-vs-reference tests cannot, since those share the C++ kernels.

The weights are runtime/model/random_weights.h's pure function, re-implemented here bit for bit
(splitmix64, float32 arithmetic emulated with struct, bf16 rounding). Each case writes
tests/runtime/golden/<name>.json: the Hugging Face config, the seed, the prompt, the greedy
tokens and every generated token's logits (the first from the prompt's prefill, then one
decode step per token). Regenerate on purpose:

    python3 tools/llama_reference.py
"""
import json
import math
import os
import struct

MASK = (1 << 64) - 1


def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def splitmix64(x):
    x = (x + 0x9E3779B97F4A7C15) & MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & MASK
    return x ^ (x >> 31)


def random_unit(seed, tensor, index):
    h = splitmix64((splitmix64(seed ^ (tensor << 40)) + index) & MASK)
    return f32(f32((h >> 40) * (2.0 / 16777216.0)) - 1.0)


def round_to_bf16(v):
    bits = struct.unpack("<I", struct.pack("<f", v))[0]
    bits = (bits + 0x7FFF + ((bits >> 16) & 1)) & 0xFFFFFFFF
    bits &= 0xFFFF0000
    return struct.unpack("<f", struct.pack("<I", bits))[0]


def random_weight(seed, tensor, index, scale, offset):
    return round_to_bf16(f32(offset + f32(scale * random_unit(seed, tensor, index))))


EMBED, FINAL_NORM, LM_HEAD = 1, 2, 3
ATTN_NORM, QKV, QKV_BIAS, O, MLP_NORM, GATE_UP, DOWN = 16, 17, 18, 19, 20, 21, 22


def tensor(seed, kind, layer, n, scale, offset=0.0):
    tid = kind + 16 * layer
    return [random_weight(seed, tid, i, scale, offset) for i in range(n)]


def weights(cfg, seed):
    h, hd = cfg["hidden_size"], cfg["head_dim"]
    nh, nkv, inter = cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["intermediate_size"]
    vocab, layers = cfg["vocab_size"], cfg["num_hidden_layers"]
    q_dim, qkv_rows = nh * hd, (nh + 2 * nkv) * hd
    inv = lambda n: f32(1.0 / f32(math.sqrt(n)))  # 1.0f / std::sqrt(float(n))
    w = {"embed": tensor(seed, EMBED, 0, vocab * h, 1.0)}
    w["layers"] = []
    for l in range(layers):
        layer = {
            "attn_norm": tensor(seed, ATTN_NORM, l, h, 0.05, 1.0),
            "qkv": tensor(seed, QKV, l, qkv_rows * h, inv(h)),
            "o": tensor(seed, O, l, h * q_dim, inv(q_dim)),
            "mlp_norm": tensor(seed, MLP_NORM, l, h, 0.05, 1.0),
            "gate_up": tensor(seed, GATE_UP, l, 2 * inter * h, inv(h)),
            "down": tensor(seed, DOWN, l, h * inter, inv(inter)),
        }
        layer["bias"] = tensor(seed, QKV_BIAS, l, qkv_rows, 0.1) if cfg.get("attention_bias") else None
        w["layers"].append(layer)
    w["final_norm"] = tensor(seed, FINAL_NORM, 0, h, 0.05, 1.0)
    if cfg.get("tie_word_embeddings"):
        w["lm_head"] = w["embed"]
    else:
        w["lm_head"] = tensor(seed, LM_HEAD, 0, vocab * h, f32(4.0 / f32(math.sqrt(h))))
    return w


def matvec(m, x, rows):
    cols = len(x)
    return [sum(m[r * cols + c] * x[c] for c in range(cols)) for r in range(rows)]


def rms_norm(x, w, eps):
    inv = 1.0 / math.sqrt(sum(v * v for v in x) / len(x) + eps)
    return [x[i] * inv * w[i] for i in range(len(x))]


def inv_freq(cfg):
    hd, theta = cfg["head_dim"], cfg["rope_theta"]
    f = [1.0 / theta ** (2 * i / hd) for i in range(hd // 2)]
    rs = cfg.get("rope_scaling")
    if rs and rs.get("rope_type") == "llama3":  # transformers' _compute_llama3_parameters
        factor, lo, hi = rs["factor"], rs["low_freq_factor"], rs["high_freq_factor"]
        old = rs["original_max_position_embeddings"]
        lo_wl, hi_wl = old / lo, old / hi
        out = []
        for v in f:
            wl = 2 * math.pi / v
            scaled = v / factor if wl > lo_wl else v
            smooth = (old / wl - lo) / (hi - lo)
            smoothed = (1 - smooth) * scaled / factor + smooth * scaled
            medium = not (wl < hi_wl) and not (wl > lo_wl)
            out.append(smoothed if medium else scaled)
        f = out
    return f


def rope(v, pos, freqs):
    half = len(v) // 2
    out = list(v)
    for i in range(half):
        c, s = math.cos(pos * freqs[i]), math.sin(pos * freqs[i])
        out[i] = v[i] * c - v[i + half] * s  # x * cos + rotate_half(x) * sin
        out[i + half] = v[i + half] * c + v[i] * s
    return out


def silu(x):
    return x / (1.0 + math.exp(-x))


class Model:
    def __init__(self, cfg, w):
        self.cfg, self.w, self.freqs = cfg, w, inv_freq(cfg)
        self.cache = [([], []) for _ in range(cfg["num_hidden_layers"])]  # per layer: K, V lists

    def step(self, token, pos):
        cfg, w = self.cfg, self.w
        h, hd = cfg["hidden_size"], cfg["head_dim"]
        nh, nkv, inter = cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["intermediate_size"]
        eps, group = cfg["rms_norm_eps"], nh // nkv
        x = w["embed"][token * h:(token + 1) * h]
        for l, lw in enumerate(w["layers"]):
            hn = rms_norm(x, lw["attn_norm"], eps)
            qkv = matvec(lw["qkv"], hn, (nh + 2 * nkv) * hd)
            if lw["bias"]:
                qkv = [a + b for a, b in zip(qkv, lw["bias"])]
            q = [rope(qkv[n * hd:(n + 1) * hd], pos, self.freqs) for n in range(nh)]
            k = [rope(qkv[(nh + j) * hd:(nh + j + 1) * hd], pos, self.freqs) for j in range(nkv)]
            v = [qkv[(nh + nkv + j) * hd:(nh + nkv + j + 1) * hd] for j in range(nkv)]
            keys, values = self.cache[l]
            keys.append(k)
            values.append(v)
            attn = []
            for n in range(nh):
                j = n // group  # transformers' repeat_kv: kv head j serves heads j*group..
                scores = [sum(a * b for a, b in zip(q[n], kp[j])) / math.sqrt(hd) for kp in keys]
                m = max(scores)
                e = [math.exp(s - m) for s in scores]
                total = sum(e)
                attn += [sum(e[p] * values[p][j][d] for p in range(len(e))) / total for d in range(hd)]
            x = [a + b for a, b in zip(x, matvec(lw["o"], attn, h))]
            hn = rms_norm(x, lw["mlp_norm"], eps)
            gu = matvec(lw["gate_up"], hn, 2 * inter)
            act = [silu(gu[i]) * gu[inter + i] for i in range(inter)]
            x = [a + b for a, b in zip(x, matvec(lw["down"], act, h))]
        xn = rms_norm(x, w["final_norm"], eps)
        return matvec(w["lm_head"], xn, cfg["vocab_size"])


def generate(cfg, seed, prompt, outputs):
    model = Model(cfg, weights(cfg, seed))
    for pos, t in enumerate(prompt):
        logits = model.step(t, pos)
    tokens, all_logits = [], []
    pos = len(prompt)
    while True:
        best = max(range(len(logits)), key=lambda i: (logits[i], -i))
        ranked = sorted(logits, reverse=True)
        assert ranked[0] - ranked[1] > 1e-3, "a near tie: pick another seed or prompt"
        tokens.append(best)
        all_logits.append(logits)
        if len(tokens) == outputs:
            return tokens, all_logits
        logits = model.step(best, pos)
        pos += 1


BASE = {
    "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_act": "silu",
    "hidden_size": 32, "intermediate_size": 48, "num_attention_heads": 4,
    "num_key_value_heads": 2, "head_dim": 8, "num_hidden_layers": 2, "vocab_size": 64,
    "max_position_embeddings": 4096, "rms_norm_eps": 1e-5, "rope_theta": 10000.0,
    "torch_dtype": "float32", "tie_word_embeddings": False, "attention_bias": False,
}

CASES = {
    "llama_gqa": dict(BASE),
    # Biases, tied embeddings and Llama 3 RoPE scaling with a short original context, so that
    # the four frequencies fall in the high, medium and low bands.
    "llama3_bias_tied": dict(BASE, attention_bias=True, tie_word_embeddings=True,
                             rope_theta=10000.0,
                             rope_scaling={"rope_type": "llama3", "factor": 8.0,
                                           "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                           "original_max_position_embeddings": 64}),
}


def main():
    out_dir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "runtime", "golden")
    os.makedirs(out_dir, exist_ok=True)
    for name, cfg in CASES.items():
        seed, prompt, outputs = 3, [5, 17, 42, 8, 63, 0, 29, 11, 50, 3], 4
        tokens, logits = generate(cfg, seed, prompt, outputs)
        doc = {"_source": "tools/llama_reference.py (float64, pure Python); regenerate on purpose",
               "config": cfg, "seed": seed, "prompt": prompt, "tokens": tokens,
               "logits": [[float("%.9g" % v) for v in row] for row in logits]}
        with open(os.path.join(out_dir, name + ".json"), "w") as f:
            json.dump(doc, f, indent=1)
            f.write("\n")
        print(name, tokens)


if __name__ == "__main__":
    main()
