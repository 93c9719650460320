#include "runtime/cpu/cpu_executor.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <functional>

#include "core/base/error.h"
#include "runtime/cpu/kernels.h"
#include "runtime/cpu/thread_pool.h"
#include "runtime/model/random_weights.h"

namespace flowkv::runtime {
namespace {

// Tokens of one item per attention task: each task gathers the item's positions once and
// attends for up to this many of its tokens.
constexpr int64_t kAttentionTokensPerTask = 32;

}  // namespace

void CpuNodeExecutor::FreeDeleter::operator()(std::byte* p) const { std::free(p); }

CpuNodeExecutor::CpuNodeExecutor(std::shared_ptr<const ModelWeights> weights,
                                 const core::KvLayout& layout, int32_t threads,
                                 std::shared_ptr<std::atomic<int64_t>> pool_bytes_in_use)
    : weights_(std::move(weights)),
      spec_(weights_->spec),
      layout_(layout),
      pool_bytes_in_use_(std::move(pool_bytes_in_use)),
      threads_(std::make_unique<ThreadPool>(threads)),
      inv_freq_(cpu::rope_inv_freq(weights_->spec)) {
  const int64_t bytes = layout_.geometry.pool_bytes();
  // calloc: zeroed, and the pages are only touched when first written.
  pool_.reset(static_cast<std::byte*>(std::calloc(static_cast<size_t>(bytes), 1)));
  if (pool_ == nullptr) {
    throw core::Error(core::ErrorKind::kRuntime,
                      "cpu device: cannot allocate a KV pool of " + std::to_string(bytes) +
                          " bytes");
  }
  pool_bytes_in_use_->fetch_add(bytes);
}

CpuNodeExecutor::~CpuNodeExecutor() { pool_bytes_in_use_->fetch_sub(layout_.geometry.pool_bytes()); }

std::byte* CpuNodeExecutor::kv_at(int32_t layer, int32_t kv, int64_t block, int64_t slot,
                                  int32_t head) const {
  const core::KvGeometry& g = layout_.geometry;
  return pool_.get() + layout_.chunk_offset(layer, kv, block) +
         (slot * g.num_kv_heads + head) * int64_t{g.head_dim} * g.dtype_bytes;
}

void CpuNodeExecutor::poison() {
  // A fixed pattern of finite values of either sign up to 8 in magnitude, in the pool's dtype,
  // repeated every 64 KiB: attending over it gives wrong tokens, never NaNs.
  constexpr int64_t kTileBytes = 64 * 1024;
  const int32_t dtype = layout_.geometry.dtype_bytes;
  std::vector<float> values(static_cast<size_t>(kTileBytes / dtype));  // [tile elements]
  for (size_t i = 0; i < values.size(); ++i) values[i] = 8.0f * random_unit(0x9015015, 0, i);
  std::vector<std::byte> tile(static_cast<size_t>(kTileBytes));
  cpu::store_kv(values.data(), tile.data(), static_cast<int64_t>(values.size()), dtype);
  const int64_t bytes = layout_.geometry.pool_bytes();
  for (int64_t at = 0; at < bytes; at += kTileBytes) {
    std::memcpy(pool_.get() + at, tile.data(), static_cast<size_t>(std::min(kTileBytes, bytes - at)));
  }
}

void CpuNodeExecutor::check_items(std::span<const ExecItem> items, std::span<int32_t> next,
                                  std::span<float> logits, int64_t sampled) const {
  const core::KvGeometry& g = layout_.geometry;
  FLOWKV_CHECK(next.size() == items.size(), "next holds " + std::to_string(next.size()) +
                                                " tokens for " + std::to_string(items.size()) +
                                                " items");
  FLOWKV_CHECK(logits.empty() || static_cast<int64_t>(logits.size()) == sampled * spec_.vocab_size,
               "logits hold " + std::to_string(logits.size()) + " values, expected " +
                   std::to_string(sampled) + " sampled items x vocab " +
                   std::to_string(spec_.vocab_size));
  for (size_t i = 0; i < items.size(); ++i) {
    const ExecItem& it = items[i];
    // Built only for a message (FLOWKV_CHECK evaluates it on failure).
    const auto which = [&] {
      return "item " + std::to_string(i) + " (request " +
             std::to_string(static_cast<uint64_t>(it.request)) + ")";
    };
    FLOWKV_CHECK(!it.tokens.empty(), which() + " has no new token");
    FLOWKV_CHECK(it.start >= 0, which() + " starts at " + std::to_string(it.start));
    const int64_t end = it.start + static_cast<int64_t>(it.tokens.size());
    const int64_t needed = g.blocks_for_tokens(end);
    FLOWKV_CHECK(static_cast<int64_t>(it.blocks.size()) >= needed,
                 which() + " covers " + std::to_string(end) + " positions with " +
                     std::to_string(it.blocks.size()) + " blocks of " +
                     std::to_string(g.block_size));
    for (int64_t b = 0; b < needed; ++b) {
      const int64_t id = it.blocks[static_cast<size_t>(b)];
      FLOWKV_CHECK(id >= 0 && id < g.num_blocks, which() + ": block id " + std::to_string(id) +
                                                     " outside the pool of " +
                                                     std::to_string(g.num_blocks) + " blocks");
    }
    for (int32_t t : it.tokens) {
      FLOWKV_CHECK(t >= 0 && t < spec_.vocab_size, which() + ": token " + std::to_string(t) +
                                                       " outside the vocabulary of " +
                                                       std::to_string(spec_.vocab_size));
    }
  }
}

void CpuNodeExecutor::run(std::span<const ExecItem> items, std::span<int32_t> next,
                          std::span<float> logits) {
  int64_t sampled = 0;
  for (const ExecItem& it : items) sampled += it.sample ? 1 : 0;
  check_items(items, next, logits, sampled);
  if (items.empty()) return;

  const int64_t hidden = spec_.hidden_size;
  item_first_.assign(items.size() + 1, 0);
  token_item_.clear();
  token_pos_.clear();
  for (size_t i = 0; i < items.size(); ++i) {
    item_first_[i] = static_cast<int64_t>(token_pos_.size());
    for (size_t t = 0; t < items[i].tokens.size(); ++t) {
      token_item_.push_back(static_cast<int32_t>(i));
      token_pos_.push_back(items[i].start + static_cast<int64_t>(t));
    }
  }
  item_first_[items.size()] = static_cast<int64_t>(token_pos_.size());
  const int64_t n = static_cast<int64_t>(token_pos_.size());

  x_.resize(static_cast<size_t>(n * hidden));
  for (int64_t t = 0; t < n; ++t) {
    const ExecItem& it = items[static_cast<size_t>(token_item_[t])];
    const int32_t token = it.tokens[static_cast<size_t>(token_pos_[t] - it.start)];
    std::memcpy(&x_[t * hidden], &weights_->embed[int64_t{token} * hidden], hidden * 4);
  }
  for (int32_t l = 0; l < spec_.num_layers; ++l) layer_forward(l, items);

  // The last token of each sampled item: final norm, LM head, greedy choice.
  std::vector<float> last(static_cast<size_t>(sampled * hidden));  // [sampled][hidden]
  std::vector<size_t> which;
  for (size_t i = 0; i < items.size(); ++i) {
    if (!items[i].sample) continue;
    const int64_t t = item_first_[i + 1] - 1;
    cpu::rms_norm(&x_[t * hidden], weights_->final_norm.data(), hidden,
                  static_cast<float>(spec_.rms_norm_eps), &last[which.size() * hidden]);
    which.push_back(i);
  }
  std::vector<float> own_logits;
  float* out = logits.data();
  if (logits.empty()) {
    own_logits.resize(static_cast<size_t>(sampled * spec_.vocab_size));  // [sampled][vocab]
    out = own_logits.data();
  }
  cpu::matmul(last.data(), hidden, sampled, weights_->lm_head.data(), spec_.vocab_size, hidden,
              out, spec_.vocab_size, threads_.get());
  for (size_t s = 0; s < which.size(); ++s) {
    next[which[s]] = cpu::argmax(out + s * spec_.vocab_size, spec_.vocab_size);
  }
}

void CpuNodeExecutor::layer_forward(int32_t layer, std::span<const ExecItem> items) {
  const LayerWeights& w = weights_->layers[static_cast<size_t>(layer)];
  const int64_t n = static_cast<int64_t>(token_pos_.size());
  const int64_t hidden = spec_.hidden_size;
  const int64_t hd = spec_.head_dim;
  const int64_t q_dim = spec_.num_heads * hd;
  const int64_t qkv_dim = (spec_.num_heads + 2 * spec_.num_kv_heads) * hd;
  const int64_t inter = spec_.intermediate_size;
  const float eps = static_cast<float>(spec_.rms_norm_eps);
  h_.resize(static_cast<size_t>(n * hidden));
  qkv_.resize(static_cast<size_t>(n * qkv_dim));
  attn_.resize(static_cast<size_t>(n * q_dim));
  proj_.resize(static_cast<size_t>(n * hidden));
  gate_up_.resize(static_cast<size_t>(n * 2 * inter));
  act_.resize(static_cast<size_t>(n * inter));

  // Token-local steps run over ranges of tokens on the node's threads (each token's values
  // depend on that token alone, so the split does not matter).
  const auto per_tokens = [&](const std::function<void(int64_t, int64_t)>& fn) {
    constexpr int64_t kTokensPerTask = 64;
    threads_->parallel_for((n + kTokensPerTask - 1) / kTokensPerTask, [&](int64_t task) {
      fn(task * kTokensPerTask, std::min(n, (task + 1) * kTokensPerTask));
    });
  };

  // Attention block.
  per_tokens([&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      cpu::rms_norm(&x_[t * hidden], w.attn_norm.data(), hidden, eps, &h_[t * hidden]);
    }
  });
  cpu::matmul(h_.data(), hidden, n, w.qkv.data(), qkv_dim, hidden, qkv_.data(), qkv_dim,
              threads_.get());
  per_tokens([&](int64_t t0, int64_t t1) { rope_and_write_kv(layer, items, w, t0, t1); });
  attention(layer, items);
  cpu::matmul(attn_.data(), q_dim, n, w.o.data(), hidden, q_dim, proj_.data(), hidden,
              threads_.get());

  // MLP block (the residual added per token first).
  per_tokens([&](int64_t t0, int64_t t1) {
    for (int64_t i = t0 * hidden; i < t1 * hidden; ++i) x_[i] += proj_[i];
    for (int64_t t = t0; t < t1; ++t) {
      cpu::rms_norm(&x_[t * hidden], w.mlp_norm.data(), hidden, eps, &h_[t * hidden]);
    }
  });
  cpu::matmul(h_.data(), hidden, n, w.gate_up.data(), 2 * inter, hidden, gate_up_.data(),
              2 * inter, threads_.get());
  per_tokens([&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const float* gu = &gate_up_[t * 2 * inter];
      cpu::silu_mul(gu, gu + inter, inter, &act_[t * inter]);
    }
  });
  cpu::matmul(act_.data(), inter, n, w.down.data(), hidden, inter, proj_.data(), hidden,
              threads_.get());
  per_tokens([&](int64_t t0, int64_t t1) {
    for (int64_t i = t0 * hidden; i < t1 * hidden; ++i) x_[i] += proj_[i];
  });
}

void CpuNodeExecutor::rope_and_write_kv(int32_t layer, std::span<const ExecItem> items,
                                        const LayerWeights& w, int64_t t0, int64_t t1) {
  const int64_t hd = spec_.head_dim;
  const int64_t q_dim = spec_.num_heads * hd;
  const int64_t kv_dim = spec_.num_kv_heads * hd;
  const int64_t qkv_dim = q_dim + 2 * kv_dim;
  const int32_t bs = layout_.geometry.block_size;
  const int32_t dtype = layout_.geometry.dtype_bytes;
  const int32_t half = spec_.head_dim / 2;
  std::vector<float> cos(static_cast<size_t>(half)), sin(static_cast<size_t>(half));  // [half]
  for (int64_t t = t0; t < t1; ++t) {
    float* row = &qkv_[t * qkv_dim];
    if (!w.qkv_bias.empty()) {
      for (int64_t i = 0; i < qkv_dim; ++i) row[i] += w.qkv_bias[i];
    }
    cpu::rope_angles(token_pos_[t], inv_freq_.data(), half, cos.data(), sin.data());
    for (int32_t head = 0; head < spec_.num_heads + spec_.num_kv_heads; ++head) {  // q and k
      cpu::apply_rope(row + head * hd, cos.data(), sin.data(), spec_.head_dim);
    }
    // The new K and V go to the pool now; attention reads them back from there.
    const ExecItem& it = items[static_cast<size_t>(token_item_[t])];
    const int64_t pos = token_pos_[t];
    const int64_t block = it.blocks[static_cast<size_t>(pos / bs)];
    for (int32_t kv = 0; kv < 2; ++kv) {
      for (int32_t head = 0; head < spec_.num_kv_heads; ++head) {
        cpu::store_kv(row + q_dim + kv * kv_dim + head * hd,
                      kv_at(layer, kv, block, pos % bs, head), hd, dtype);
      }
    }
  }
}

void CpuNodeExecutor::attention(int32_t layer, std::span<const ExecItem> items) {
  const int64_t hd = spec_.head_dim;
  const int32_t group = spec_.num_heads / spec_.num_kv_heads;
  const int64_t q_dim = spec_.num_heads * hd;
  const int64_t qkv_dim = q_dim + 2 * spec_.num_kv_heads * hd;
  const int32_t bs = layout_.geometry.block_size;
  const int32_t dtype = layout_.geometry.dtype_bytes;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));

  // Tasks: (item, a range of the item's tokens). A task gathers its item's positions once for
  // every KV head (a token slot holds all heads contiguously), then attends per head.
  struct Task {
    int32_t item;
    int64_t first;  // token indices [first, last)
    int64_t last;
  };
  std::vector<Task> tasks;
  for (size_t i = 0; i < items.size(); ++i) {
    for (int64_t t = item_first_[i]; t < item_first_[i + 1]; t += kAttentionTokensPerTask) {
      tasks.push_back(
          {static_cast<int32_t>(i), t, std::min(item_first_[i + 1], t + kAttentionTokensPerTask)});
    }
  }
  const int32_t kv_heads = spec_.num_kv_heads;
  threads_->parallel_for(static_cast<int64_t>(tasks.size()), [&](int64_t k) {
    const Task& task = tasks[static_cast<size_t>(k)];
    const ExecItem& it = items[static_cast<size_t>(task.item)];
    const int64_t ctx = token_pos_[task.last - 1] + 1;  // positions this task reads
    // Per-thread scratch, kept between calls.
    const int64_t n = task.last - task.first;
    const int64_t stride = cpu::scores_stride(ctx);
    thread_local std::vector<float> slot, keys, values, scores;
    slot.resize(static_cast<size_t>(16 * kv_heads * hd));        // [K|V][8 positions][kv_heads][head_dim]
    keys.resize(static_cast<size_t>(kv_heads * hd * stride));    // [kv_heads][head_dim][stride]
    values.resize(static_cast<size_t>(kv_heads * ctx * hd));     // [kv_heads][ctx][head_dim]
    scores.resize(static_cast<size_t>(n * stride));              // [task tokens][stride]
    // K: 8 positions at a time into `slot`, then written transposed 8 floats per row.
    const int64_t width = int64_t{kv_heads} * hd;
    for (int64_t p0 = 0; p0 < ctx; p0 += 8) {
      const int64_t count = std::min<int64_t>(8, ctx - p0);
      for (int64_t i = 0; i < count; ++i) {
        const int64_t p = p0 + i;
        const int64_t block = it.blocks[static_cast<size_t>(p / bs)];
        cpu::load_kv(kv_at(layer, 0, block, p % bs, 0), &slot[i * width], width, dtype);
        cpu::load_kv(kv_at(layer, 1, block, p % bs, 0), &slot[(8 + i) * width], width, dtype);
        for (int32_t h = 0; h < kv_heads; ++h) {
          std::memcpy(&values[(h * ctx + p) * hd], &slot[(8 + i) * width + h * hd],
                      static_cast<size_t>(hd) * 4);
        }
      }
      for (int64_t e = 0; e < width; ++e) {
        float* row = &keys[e * stride + p0];
        for (int64_t i = 0; i < count; ++i) row[i] = slot[i * width + e];
      }
    }
    // One query head for all the task's tokens at a time: their scores against every position
    // the task reads (each score's order is fixed, so the same as a token alone; a token
    // ignores the positions after its own).
    for (int32_t head = 0; head < spec_.num_heads; ++head) {
      const int32_t h = head / group;
      const float* kt = &keys[h * hd * stride];
      const float* v = &values[h * ctx * hd];
      cpu::attention_scores(&qkv_[task.first * qkv_dim + head * hd], qkv_dim, n, kt, stride, ctx,
                            spec_.head_dim, scores.data(), stride);
      for (int64_t t = task.first; t < task.last; ++t) {
        cpu::softmax_weighted_sum(&scores[(t - task.first) * stride], token_pos_[t] + 1, v,
                                  spec_.head_dim, scale, &attn_[t * q_dim + head * hd]);
      }
    }
  });
}

}  // namespace flowkv::runtime
