// PackedVector (core/base/packed_vector.h), the one-pointer list a Request keeps its prefix hashes
// and prompt token ids in. Invariant protected: it behaves as std::vector does for every operation
// the code uses (checked against a std::vector on a random sequence of them), and an empty one is
// one pointer that allocates nothing.
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <vector>

#include "core/base/packed_vector.h"
#include "core/base/request.h"

namespace {

using flowkv::core::PackedVector;

TEST(PackedVector, EmptyIsOnePointer) {
  static_assert(sizeof(PackedVector<uint64_t>) == sizeof(void*));
  static_assert(sizeof(flowkv::core::Request) <= 56, "a Request should stay within 56 bytes");
  PackedVector<uint64_t> v;
  EXPECT_TRUE(v.empty());
  EXPECT_EQ(v.data(), nullptr);
  EXPECT_EQ(v.begin(), v.end());
  v.clear();
  v.resize(0);
  EXPECT_EQ(v.capacity(), 0u) << "an empty list must not allocate";
}

TEST(PackedVector, MatchesStdVectorOnRandomOperations) {
  std::mt19937_64 rng(42);
  PackedVector<int32_t> p;
  std::vector<int32_t> v;
  for (int step = 0; step < 20000; ++step) {
    const int32_t x = static_cast<int32_t>(rng() % 1000);
    switch (rng() % 7) {
      case 0: case 1: case 2: p.push_back(x); v.push_back(x); break;
      case 3: { const size_t n = rng() % 40; p.resize(n, x); v.resize(n, x); break; }
      case 4: if (!v.empty()) { p.push_back(p[0]); v.push_back(v[0]); } break;  // an element of itself
      case 5: { PackedVector<int32_t> copy = p; p = std::move(copy); break; }
      case 6: if (rng() % 8 == 0) { p.clear(); v.clear(); } else { p = v; } break;
    }
    ASSERT_EQ(p.size(), v.size()) << "step " << step;
    ASSERT_TRUE(p == v) << "step " << step;
    ASSERT_GE(p.capacity(), p.size());
  }
  const std::vector<int32_t> back = p;
  EXPECT_EQ(back, v);
  PackedVector<int32_t> braced = {1, 2, 3};
  EXPECT_EQ(braced.back(), 3);
  EXPECT_FALSE(braced == PackedVector<int32_t>({1, 2}));
}

}  // namespace
