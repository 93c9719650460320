// KvLayout: offsets against a brute-force enumeration of each layout's nested loops.
#include "core/kv/kv_layout.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <tuple>

namespace flowkv::core {
namespace {

KvGeometry small_geometry(int64_t num_blocks) {
  KvGeometry g;
  g.num_layers = 3;
  g.num_kv_heads = 2;
  g.head_dim = 4;
  g.block_size = 5;
  g.dtype_bytes = 2;
  g.num_blocks = num_blocks;
  return g;
}

using ChunkKey = std::tuple<int32_t, int32_t, int64_t>;  // layer, kv, block

// Walks the shape comment of each layout in row-major order, handing out chunk slots.
std::map<ChunkKey, int64_t> reference_offsets(LayoutKind kind, const KvGeometry& g) {
  std::map<ChunkKey, int64_t> offsets;
  int64_t next = 0;
  if (kind == LayoutKind::kPagedPerLayer) {
    for (int32_t l = 0; l < g.num_layers; ++l)
      for (int32_t kv = 0; kv < 2; ++kv)
        for (int64_t b = 0; b < g.num_blocks; ++b) offsets[{l, kv, b}] = next++ * g.chunk_bytes();
  } else {
    for (int64_t b = 0; b < g.num_blocks; ++b)
      for (int32_t l = 0; l < g.num_layers; ++l)
        for (int32_t kv = 0; kv < 2; ++kv) offsets[{l, kv, b}] = next++ * g.chunk_bytes();
  }
  return offsets;
}

TEST(KvGeometry, ByteFiguresOfLlama31_8B) {
  KvGeometry g;
  g.num_layers = 32;
  g.num_kv_heads = 8;
  g.head_dim = 128;
  g.block_size = 16;
  g.dtype_bytes = 2;
  g.num_blocks = 1000;
  EXPECT_EQ(g.token_bytes_per_layer_kv(), 2048);
  EXPECT_EQ(g.chunk_bytes(), 32768);
  EXPECT_EQ(g.token_bytes(), 131072);
  EXPECT_EQ(g.block_bytes(), 2 * 1024 * 1024);
  EXPECT_EQ(g.pool_bytes(), int64_t{1000} * 2 * 1024 * 1024);
  EXPECT_EQ(g.blocks_for_tokens(13000), 813);
  EXPECT_EQ(g.blocks_for_tokens(16), 1);
  EXPECT_EQ(g.blocks_for_tokens(17), 2);
}

class LayoutOffsets : public ::testing::TestWithParam<LayoutKind> {};

TEST_P(LayoutOffsets, ChunkOffsetsMatchTheShapeComment) {
  for (int64_t num_blocks : {1, 2, 7}) {
    const KvLayout layout{GetParam(), small_geometry(num_blocks)};
    const auto reference = reference_offsets(layout.kind, layout.geometry);
    std::set<int64_t> seen;
    for (const auto& [key, offset] : reference) {
      const auto& [l, kv, b] = key;
      EXPECT_EQ(layout.chunk_offset(l, kv, b), offset)
          << "layer " << l << " kv " << kv << " block " << b;
      seen.insert(layout.chunk_offset(l, kv, b));
    }
    // The chunks tile the pool: distinct, and the last one ends at pool_bytes().
    EXPECT_EQ(static_cast<int64_t>(seen.size()), 2 * layout.geometry.num_layers * num_blocks);
    EXPECT_EQ(*seen.rbegin() + layout.geometry.chunk_bytes(), layout.geometry.pool_bytes());
  }
}

TEST_P(LayoutOffsets, PiecesOfABlockCoverItsChunks) {
  const KvLayout layout{GetParam(), small_geometry(6)};
  const KvGeometry& g = layout.geometry;
  EXPECT_EQ(layout.pieces_per_block() * layout.block_piece_bytes(), g.block_bytes());
  for (int64_t b = 0; b < g.num_blocks; ++b) {
    // Every chunk of block b lies inside exactly one piece of block b.
    for (int32_t l = 0; l < g.num_layers; ++l) {
      for (int32_t kv = 0; kv < 2; ++kv) {
        const int64_t chunk = layout.chunk_offset(l, kv, b);
        int hits = 0;
        for (int64_t p = 0; p < layout.pieces_per_block(); ++p) {
          const int64_t start = layout.piece_offset(b, p);
          if (chunk >= start && chunk + g.chunk_bytes() <= start + layout.block_piece_bytes())
            ++hits;
        }
        EXPECT_EQ(hits, 1) << "block " << b << " layer " << l << " kv " << kv;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(BothLayouts, LayoutOffsets,
                         ::testing::Values(LayoutKind::kPagedPerLayer,
                                           LayoutKind::kBlockContiguous),
                         [](const auto& info) { return std::string(to_string(info.param)); });

// Windowed layers: a request holds its chunks packed into whole blocks. It never holds less
// than the chunks it needs (every full layer's token blocks, each windowed layer's blocks under
// its window), never more than one block beyond, never more than without windows, and grows by
// at most one block per token (the decode loop adds one at a time).
TEST(KvGeometry, WindowedLayersKeepTheirWindowPacked) {
  KvGeometry g;
  g.num_layers = 6;
  g.num_kv_heads = 2;
  g.head_dim = 8;
  g.block_size = 16;
  g.window_layers = 4;
  g.window_tokens = 40;
  int64_t previous = 0;
  for (int64_t t = 1; t <= 2000; ++t) {
    const int64_t token_blocks = (t + 15) / 16;
    const int64_t first = std::max<int64_t>(0, t - 40) / 16;  // oldest block a window reaches
    const int64_t under_window = (t - 1) / 16 - first + 1;
    const int64_t need_chunks = 2 * token_blocks + 4 * under_window;
    const int64_t blocks = g.blocks_for_tokens(t);
    EXPECT_GE(blocks * 6, need_chunks) << t;
    EXPECT_LE(blocks * 6, need_chunks + 6 + 4 * (g.window_token_blocks() - under_window)) << t;
    EXPECT_LE(blocks, token_blocks) << t;
    if (t <= 40) {
      EXPECT_EQ(blocks, token_blocks) << t;
    }
    EXPECT_LE(blocks - previous, 1) << t;
    EXPECT_GE(blocks, previous) << t;
    previous = blocks;
  }
  // Past the window the full layers alone set the pace: 2 of 6 layers' chunks per token block.
  EXPECT_EQ(g.blocks_for_tokens(16 * 3000), (2 * 3000 + 4 * g.window_token_blocks() + 5) / 6);
  // MLA: one part per layer.
  KvGeometry mla;
  mla.num_layers = 61;
  mla.num_kv_heads = 1;
  mla.head_dim = 576;
  mla.kv_parts = 1;
  EXPECT_EQ(mla.token_bytes(), 61 * 576 * 2);
  EXPECT_EQ(mla.chunks_per_block(), 61);
  const KvLayout paged{LayoutKind::kPagedPerLayer, KvGeometry{mla.num_layers, 1, 576, 16, 2, 10, 1}};
  EXPECT_EQ(paged.chunk_offset(1, 0, 3), (1 * 10 + 3) * 16 * 576 * 2);
  EXPECT_EQ(paged.pieces_per_block(), 61);
}

TEST(KvLayout, BlockContiguousBlocksAreAdjacent) {
  const KvLayout layout{LayoutKind::kBlockContiguous, small_geometry(4)};
  EXPECT_EQ(layout.pieces_per_block(), 1);
  for (int64_t b = 0; b + 1 < 4; ++b) {
    EXPECT_EQ(layout.piece_offset(b, 0) + layout.block_piece_bytes(),
              layout.piece_offset(b + 1, 0));
  }
}

TEST(KvLayout, PagedPiecesAreOnePerLayerAndKv) {
  const KvLayout layout{LayoutKind::kPagedPerLayer, small_geometry(4)};
  EXPECT_EQ(layout.pieces_per_block(), 6);
  EXPECT_EQ(layout.block_piece_bytes(), layout.geometry.chunk_bytes());
  // Piece p of a block is (layer p / 2, K|V p % 2); the same piece of the next block follows it.
  EXPECT_EQ(layout.piece_offset(2, 3), layout.chunk_offset(1, 1, 2));
  EXPECT_EQ(layout.piece_offset(1, 0) + layout.geometry.chunk_bytes(), layout.piece_offset(2, 0));
}

// The header is used from device code; the offsets must stay constant expressions.
// 2 layers, 3 blocks, 1-byte chunks: chunk (layer 1, K, block 2) is the 11th (contiguous) or
// the 9th (paged) of the pool.
static_assert(KvLayout{LayoutKind::kBlockContiguous, KvGeometry{2, 1, 1, 1, 1, 3}}.chunk_offset(
                  1, 0, 2) == 10);
static_assert(KvLayout{LayoutKind::kPagedPerLayer, KvGeometry{2, 1, 1, 1, 1, 3}}.chunk_offset(1, 0,
                                                                                              2) ==
              8);

TEST(KvLayout, Names) {
  EXPECT_STREQ(to_string(LayoutKind::kPagedPerLayer), "paged");
  EXPECT_STREQ(to_string(LayoutKind::kBlockContiguous), "contiguous");
}

}  // namespace
}  // namespace flowkv::core
