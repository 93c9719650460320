// Allocator throughput: allocate+free pairs per second for the segment and free-list
// allocators in a pool held at 50% and 90% occupancy by a steady churn of random-sized
// requests. Prints a table; --json FILE also writes the figures. Never passes or fails on
// time.
//
//   allocator_bench [--pool-blocks 65536] [--max-request-blocks 512] [--iterations 20000]
//                   [--seed 1] [--json FILE]
//
// A "pair" is one allocation plus one free. Each iteration frees a random live request and
// allocates random-sized requests (uniform in [1, max-request-blocks]) until the pool is back
// at its occupancy; pairs/s = (allocations + frees) / 2 / elapsed.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "core/kv/block_allocator.h"
#include "core/kv/pool_history.h"

namespace {

using namespace flowkv::core;

struct Options {
  int64_t pool_blocks = 65536;
  int64_t max_request_blocks = 512;
  int64_t iterations = 20000;
  uint64_t seed = 1;
  std::string json_path;
};

struct Figures {
  std::string allocator;
  double occupancy = 0;
  double pairs_per_s = 0;
  double ns_per_pair = 0;
  double runs_per_allocation = 0;  // how scattered the allocations came out
};

[[noreturn]] void usage_error(const std::string& message) {
  std::fprintf(stderr,
               "allocator_bench: %s\nusage: allocator_bench [--pool-blocks N] "
               "[--max-request-blocks N] [--iterations N] [--seed S] [--json FILE]\n",
               message.c_str());
  std::exit(2);
}

int64_t positive(const std::string& flag, const char* text) {
  char* end = nullptr;
  const long long v = std::strtoll(text, &end, 10);
  if (end == text || *end != '\0' || v < 1)
    usage_error(flag + " '" + text + "': expected a positive integer");
  return v;
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) usage_error("missing value after " + flag);
    const char* value = argv[++i];
    if (flag == "--pool-blocks") {
      o.pool_blocks = positive(flag, value);
    } else if (flag == "--max-request-blocks") {
      o.max_request_blocks = positive(flag, value);
    } else if (flag == "--iterations") {
      o.iterations = positive(flag, value);
    } else if (flag == "--seed") {
      o.seed = static_cast<uint64_t>(positive(flag, value));
    } else if (flag == "--json") {
      o.json_path = value;
    } else {
      usage_error("unknown flag " + flag);
    }
  }
  if (o.max_request_blocks > o.pool_blocks / 10)
    usage_error("--max-request-blocks must be at most a tenth of the pool");
  return o;
}

Figures measure(AllocatorKind kind, double occupancy, const Options& o) {
  auto allocator = make_allocator(kind, o.pool_blocks);
  PoolHistoryOptions history;
  history.occupancy = occupancy;
  history.seed = o.seed;
  history.max_request_blocks = o.max_request_blocks;
  std::vector<BlockList> live = fill_pool(*allocator, history);
  const int64_t target = allocator->num_used();
  std::mt19937_64 rng(o.seed + 1000);

  int64_t allocations = 0, frees = 0, runs = 0;
  const auto start = std::chrono::steady_clock::now();
  for (int64_t it = 0; it < o.iterations; ++it) {
    const size_t victim = static_cast<size_t>(uniform_below(rng, live.size()));
    allocator->free(live[victim]);
    std::swap(live[victim], live.back());
    live.pop_back();
    ++frees;
    while (allocator->num_used() < target) {
      const int64_t size =
          1 + static_cast<int64_t>(uniform_below(rng, static_cast<uint64_t>(o.max_request_blocks)));
      BlockList blocks;
      if (!allocator->allocate(std::min(size, allocator->num_free()), blocks)) break;
      runs += static_cast<int64_t>(blocks.size());
      ++allocations;
      live.push_back(std::move(blocks));
    }
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  Figures f;
  f.allocator = to_string(kind);
  f.occupancy = occupancy;
  const double pairs = static_cast<double>(allocations + frees) / 2.0;
  f.pairs_per_s = pairs / seconds;
  f.ns_per_pair = seconds * 1e9 / pairs;
  f.runs_per_allocation =
      allocations == 0 ? 0.0 : static_cast<double>(runs) / static_cast<double>(allocations);
  return f;
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  std::printf("pool %lld blocks, requests of 1..%lld blocks, %lld iterations, seed %llu\n\n",
              static_cast<long long>(o.pool_blocks), static_cast<long long>(o.max_request_blocks),
              static_cast<long long>(o.iterations), static_cast<unsigned long long>(o.seed));
  std::printf("%-10s %9s %14s %12s %18s\n", "allocator", "occupancy", "pairs/s", "ns/pair",
              "runs/allocation");
  std::vector<Figures> results;
  for (double occupancy : {0.5, 0.9}) {
    for (AllocatorKind kind : {AllocatorKind::kSegment, AllocatorKind::kFreeList}) {
      const Figures f = measure(kind, occupancy, o);
      std::printf("%-10s %9.2f %14.0f %12.0f %18.2f\n", f.allocator.c_str(), f.occupancy,
                  f.pairs_per_s, f.ns_per_pair, f.runs_per_allocation);
      results.push_back(f);
    }
  }
  if (!o.json_path.empty()) {
    nlohmann::ordered_json out;
    out["benchmark"] = "allocator";
    out["pool_blocks"] = o.pool_blocks;
    out["max_request_blocks"] = o.max_request_blocks;
    out["iterations"] = o.iterations;
    out["seed"] = o.seed;
    for (const Figures& f : results) {
      out["results"].push_back({{"allocator", f.allocator},
                                {"occupancy", f.occupancy},
                                {"pairs_per_s", f.pairs_per_s},
                                {"ns_per_pair", f.ns_per_pair},
                                {"runs_per_allocation", f.runs_per_allocation}});
    }
    std::ofstream file(o.json_path);
    if (!file) {
      std::fprintf(stderr, "allocator_bench: cannot write %s\n", o.json_path.c_str());
      return 2;
    }
    file << out.dump(2) << "\n";
  }
  return 0;
}
