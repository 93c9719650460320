// Both functions walk the same canonical order of pieces (see plan_transfer's comment in the
// header and docs/kv.md); count_transfer derives the number of merges from the block runs
// instead of visiting every piece. A test checks plan == count on random histories.
#include "core/kv/transfer_plan.h"

#include <string>

#include "core/base/error.h"

namespace flowkv::core {
namespace {

void check_compatible(const KvLayout& src, std::span<const BlockRun> src_blocks,
                      const KvLayout& dst, std::span<const BlockRun> dst_blocks) {
  const KvGeometry& a = src.geometry;
  const KvGeometry& b = dst.geometry;
  FLOWKV_CHECK(a.num_layers == b.num_layers && a.num_kv_heads == b.num_kv_heads &&
                   a.head_dim == b.head_dim && a.block_size == b.block_size &&
                   a.dtype_bytes == b.dtype_bytes && a.kv_parts == b.kv_parts &&
                   a.window_layers == b.window_layers && a.window_tokens == b.window_tokens,
               "source and destination pools hold different KV shapes");
  FLOWKV_CHECK(a.num_layers >= 1 && (a.kv_parts == 1 || a.kv_parts == 2) && a.chunk_bytes() > 0,
               "empty KV geometry");
  const int64_t n_src = total_blocks(src_blocks);
  const int64_t n_dst = total_blocks(dst_blocks);
  FLOWKV_CHECK(n_src == n_dst, "source has " + std::to_string(n_src) + " blocks, destination " +
                                   std::to_string(n_dst));
  for (const BlockRun& r : src_blocks) {
    FLOWKV_CHECK(r.count >= 0 && int64_t{to_int(r.first)} + r.count <= a.num_blocks,
                 "source run outside the pool");
  }
  for (const BlockRun& r : dst_blocks) {
    FLOWKV_CHECK(r.count >= 0 && int64_t{to_int(r.first)} + r.count <= b.num_blocks,
                 "destination run outside the pool");
  }
}

std::vector<int64_t> expand(std::span<const BlockRun> runs) {
  std::vector<int64_t> ids;
  ids.reserve(static_cast<size_t>(total_blocks(runs)));
  for (const BlockRun& r : runs) {
    for (int64_t i = 0; i < r.count; ++i) ids.push_back(int64_t{to_int(r.first)} + i);
  }
  return ids;
}

// The pieces are chunks (one (layer, K|V) of one block) unless both pools are
// block-contiguous, where a whole block is contiguous on both sides.
bool whole_blocks(const KvLayout& src, const KvLayout& dst) {
  return src.kind == LayoutKind::kBlockContiguous && dst.kind == LayoutKind::kBlockContiguous;
}

// Canonical order: (layer, K|V)-major when the source is paged (each layer tensor is read in
// address order), block-major otherwise (the source's address order).
bool chunk_major(const KvLayout& src) { return src.kind == LayoutKind::kPagedPerLayer; }

// Whether the copy of `next` starts exactly where the copy of `prev` ends on one side.
bool continues(int64_t prev_offset, int64_t bytes, int64_t next_offset) {
  return prev_offset + bytes == next_offset;
}

class PieceSink {
 public:
  PieceSink(std::vector<Copy>& out, bool merge) : out_(out), merge_(merge) {}
  void add(int64_t src_offset, int64_t dst_offset, int64_t bytes) {
    if (merge_ && !out_.empty()) {
      Copy& last = out_.back();
      if (continues(last.src_offset, last.bytes, src_offset) &&
          continues(last.dst_offset, last.bytes, dst_offset)) {
        last.bytes += bytes;
        return;
      }
    }
    out_.push_back(Copy{src_offset, dst_offset, bytes});
  }

 private:
  std::vector<Copy>& out_;
  bool merge_;
};

// Counts the i in [0, n-1) for which pred(s_i, s_{i+1}, d_i, d_{i+1}) holds, where s and d
// are the concatenated source and destination runs. Offsets in both layouts are affine in the
// block id with a slope that depends on the layout only, so for the pairs inside a stretch
// where both s and d step by +1 the predicate has one value; it is evaluated once per stretch
// and once per stretch boundary: O(runs).
template <typename Pred>
int64_t count_pairs(std::span<const BlockRun> src, std::span<const BlockRun> dst, Pred pred) {
  int64_t pairs = 0;
  size_t si = 0, di = 0;     // current runs
  int64_t so = 0, doff = 0;  // position inside them
  auto skip_empty = [](std::span<const BlockRun> runs, size_t& i) {
    while (i < runs.size() && runs[i].count == 0) ++i;
  };
  skip_empty(src, si);
  skip_empty(dst, di);
  while (si < src.size() && di < dst.size()) {
    const int64_t s = int64_t{to_int(src[si].first)} + so;
    const int64_t d = int64_t{to_int(dst[di].first)} + doff;
    const int64_t m = std::min(src[si].count - so, dst[di].count - doff);  // joint stretch
    if (m > 1 && pred(s, s + 1, d, d + 1)) pairs += m - 1;
    so += m;
    doff += m;
    if (so == src[si].count) {
      ++si;
      so = 0;
      skip_empty(src, si);
    }
    if (doff == dst[di].count) {
      ++di;
      doff = 0;
      skip_empty(dst, di);
    }
    if (si < src.size() && di < dst.size()) {
      const int64_t s_next = int64_t{to_int(src[si].first)} + so;
      const int64_t d_next = int64_t{to_int(dst[di].first)} + doff;
      if (pred(s + m - 1, s_next, d + m - 1, d_next)) ++pairs;
    }
  }
  return pairs;
}

int64_t first_block(std::span<const BlockRun> runs) {
  for (const BlockRun& r : runs) {
    if (r.count > 0) return to_int(r.first);
  }
  return 0;
}

int64_t last_block(std::span<const BlockRun> runs) {
  for (size_t i = runs.size(); i-- > 0;) {
    if (runs[i].count > 0) return int64_t{to_int(runs[i].first)} + runs[i].count - 1;
  }
  return 0;
}

// Number of copies kMerged produces; see the canonical order above.
int64_t merged_calls(const KvLayout& src, std::span<const BlockRun> src_blocks, const KvLayout& dst,
                     std::span<const BlockRun> dst_blocks) {
  const int64_t n = total_blocks(src_blocks);
  const int64_t chunks = src.geometry.chunks_per_block();  // (layer, part) pairs
  const int64_t parts = src.geometry.kv_parts;
  const int64_t chunk = src.geometry.chunk_bytes();
  // Chunk c = parts * layer + part of block b.
  auto src_chunk = [&](int64_t c, int64_t b) {
    return src.chunk_offset(static_cast<int32_t>(c / parts), static_cast<int32_t>(c % parts), b);
  };
  auto dst_chunk = [&](int64_t c, int64_t b) {
    return dst.chunk_offset(static_cast<int32_t>(c / parts), static_cast<int32_t>(c % parts), b);
  };

  if (whole_blocks(src, dst)) {
    const int64_t bytes = src.geometry.block_bytes();
    const int64_t merges =
        count_pairs(src_blocks, dst_blocks, [&](int64_t s, int64_t s2, int64_t d, int64_t d2) {
          return continues(src.piece_offset(s, 0), bytes, src.piece_offset(s2, 0)) &&
                 continues(dst.piece_offset(d, 0), bytes, dst.piece_offset(d2, 0));
        });
    return n - merges;
  }

  const int64_t pieces = n * chunks;
  int64_t merges = 0;
  if (chunk_major(src)) {
    // Inside one chunk index c: block i to block i + 1 (the condition does not depend on c).
    merges += chunks * count_pairs(src_blocks, dst_blocks,
                                   [&](int64_t s, int64_t s2, int64_t d, int64_t d2) {
                                     return continues(src_chunk(0, s), chunk, src_chunk(0, s2)) &&
                                            continues(dst_chunk(0, d), chunk, dst_chunk(0, d2));
                                   });
    // From the last block of chunk c to the first block of chunk c + 1.
    const int64_t s0 = first_block(src_blocks), s1 = last_block(src_blocks);
    const int64_t d0 = first_block(dst_blocks), d1 = last_block(dst_blocks);
    if (continues(src_chunk(0, s1), chunk, src_chunk(1, s0)) &&
        continues(dst_chunk(0, d1), chunk, dst_chunk(1, d0))) {
      merges += chunks - 1;
    }
  } else {
    // Inside one block: chunk c to chunk c + 1 (depends on neither c nor the block).
    const int64_t s0 = first_block(src_blocks), d0 = first_block(dst_blocks);
    if (continues(src_chunk(0, s0), chunk, src_chunk(1, s0)) &&
        continues(dst_chunk(0, d0), chunk, dst_chunk(1, d0))) {
      merges += n * (chunks - 1);
    }
    // From the last chunk of block i to the first chunk of block i + 1.
    merges +=
        count_pairs(src_blocks, dst_blocks, [&](int64_t s, int64_t s2, int64_t d, int64_t d2) {
          return continues(src_chunk(chunks - 1, s), chunk, src_chunk(0, s2)) &&
                 continues(dst_chunk(chunks - 1, d), chunk, dst_chunk(0, d2));
        });
  }
  return pieces - merges;
}

}  // namespace

std::vector<Copy> plan_transfer(const KvLayout& src, std::span<const BlockRun> src_blocks,
                                const KvLayout& dst, std::span<const BlockRun> dst_blocks,
                                TransferMode mode) {
  check_compatible(src, src_blocks, dst, dst_blocks);
  std::vector<Copy> copies;
  const int64_t n = total_blocks(src_blocks);
  if (n == 0) return copies;
  const int32_t layers = src.geometry.num_layers;
  const int32_t parts = src.geometry.kv_parts;
  const int64_t chunk = src.geometry.chunk_bytes();

  if (mode == TransferMode::kPerLayer) {
    // Staging buffer on each side: // [num_layers][kv_parts][n][block_size][num_kv_heads][head_dim]
    const int64_t layer_bytes = parts * n * chunk;
    for (int32_t l = 0; l < layers; ++l)
      copies.push_back(Copy{l * layer_bytes, l * layer_bytes, layer_bytes});
    return copies;
  }

  const std::vector<int64_t> s = expand(src_blocks);
  const std::vector<int64_t> d = expand(dst_blocks);
  PieceSink sink(copies, mode == TransferMode::kMerged);
  if (whole_blocks(src, dst)) {
    copies.reserve(mode == TransferMode::kMerged ? src_blocks.size() : s.size());
    const int64_t bytes = src.geometry.block_bytes();
    for (size_t i = 0; i < s.size(); ++i) {
      sink.add(src.piece_offset(s[i], 0), dst.piece_offset(d[i], 0), bytes);
    }
    return copies;
  }
  if (mode == TransferMode::kPerBlock) copies.reserve(s.size() * static_cast<size_t>(parts * layers));
  if (chunk_major(src)) {
    for (int32_t l = 0; l < layers; ++l) {
      for (int32_t kv = 0; kv < parts; ++kv) {
        for (size_t i = 0; i < s.size(); ++i) {
          sink.add(src.chunk_offset(l, kv, s[i]), dst.chunk_offset(l, kv, d[i]), chunk);
        }
      }
    }
  } else {
    for (size_t i = 0; i < s.size(); ++i) {
      for (int32_t l = 0; l < layers; ++l) {
        for (int32_t kv = 0; kv < parts; ++kv) {
          sink.add(src.chunk_offset(l, kv, s[i]), dst.chunk_offset(l, kv, d[i]), chunk);
        }
      }
    }
  }
  return copies;
}

std::vector<Copy> plan_staging(const KvLayout& pool, std::span<const BlockRun> blocks, bool gather) {
  const std::vector<int64_t> ids = expand(blocks);
  const int64_t n = static_cast<int64_t>(ids.size());
  const int64_t chunk = pool.geometry.chunk_bytes();
  std::vector<Copy> copies;
  copies.reserve(static_cast<size_t>(n * 2 * pool.geometry.num_layers));
  for (int32_t l = 0; l < pool.geometry.num_layers; ++l) {
    for (int32_t kv = 0; kv < 2; ++kv) {
      for (int64_t i = 0; i < n; ++i) {
        const int64_t staged = ((int64_t{l} * 2 + kv) * n + i) * chunk;
        const int64_t pooled = pool.chunk_offset(l, kv, ids[static_cast<size_t>(i)]);
        copies.push_back(gather ? Copy{pooled, staged, chunk} : Copy{staged, pooled, chunk});
      }
    }
  }
  return copies;
}

TransferCost count_transfer(const KvLayout& src, std::span<const BlockRun> src_blocks,
                            const KvLayout& dst, std::span<const BlockRun> dst_blocks,
                            TransferMode mode) {
  check_compatible(src, src_blocks, dst, dst_blocks);
  TransferCost cost;
  const int64_t n = total_blocks(src_blocks);
  if (n == 0) return cost;
  const int64_t chunks = src.geometry.chunks_per_block();
  cost.bytes = n * src.geometry.block_bytes();
  switch (mode) {
    case TransferMode::kPerBlock:
      cost.calls = whole_blocks(src, dst) ? n : n * chunks;
      break;
    case TransferMode::kMerged:
      cost.calls = merged_calls(src, src_blocks, dst, dst_blocks);
      break;
    case TransferMode::kPerLayer:
      cost.calls = src.geometry.num_layers;
      // Every chunk is gathered into the staging buffer on the source and scattered out of
      // it on the destination.
      cost.local_copies = 2 * n * chunks;
      break;
  }
  return cost;
}

TransferMode parse_transfer_mode(std::string_view name) {
  if (name == "per-block") return TransferMode::kPerBlock;
  if (name == "merged") return TransferMode::kMerged;
  if (name == "per-layer") return TransferMode::kPerLayer;
  throw_input_error("unknown transfer mode '" + std::string(name) +
                    "': expected one of per-block, merged, per-layer");
}

const char* to_string(TransferMode mode) {
  switch (mode) {
    case TransferMode::kPerBlock:
      return "per-block";
    case TransferMode::kMerged:
      return "merged";
    case TransferMode::kPerLayer:
      return "per-layer";
  }
  return "unknown";
}

}  // namespace flowkv::core
