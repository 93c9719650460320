// flowkv kv plan: how many transport calls move one request's KV, for each layout, merging
// on or off, and each allocator. See docs/kv.md for what the figures mean.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/base/error.h"
#include "core/kv/block_allocator.h"
#include "core/kv/kv_layout.h"
#include "core/kv/pool_history.h"
#include "core/kv/transfer_plan.h"
#include "core/spec/model_spec.h"
#include "tools/flowkv/command.h"

namespace flowkv::cli {
namespace {

using core::throw_input_error;

constexpr const char* kPlanUsage =
    "flowkv kv plan --model NAME --tokens N [--block-size 16] [--occupancy F --seed S] "
    "[--pool-blocks B] [--kv-dtype auto|bf16|fp8] [--accept-unmodelled KEY,...|all] [--json]";

struct PlanRow {
  core::LayoutKind layout;
  bool merge;
  core::AllocatorKind allocator;
  core::TransferCost cost;
};

struct Placement {
  core::AllocatorKind allocator;
  core::BlockList src;
  core::BlockList dst;
};

uint64_t parse_seed(const std::string& text) {
  uint64_t value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || ptr != end) {
    throw_input_error("--seed '" + text + "': expected a non-negative integer below 2^64");
  }
  return value;
}

// With thousands separators, for the table.
std::string grouped(int64_t v) {
  std::string digits = std::to_string(v < 0 ? -v : v);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return v < 0 ? "-" + out : out;
}

// Default pool: 4x the request, and at least enough that the part left free by the pre-fill
// holds the request twice, so any occupancy below 1 leaves room to place it.
int64_t default_pool_blocks(int64_t request_blocks, double occupancy) {
  const double for_occupancy =
      std::ceil(2.0 * static_cast<double>(request_blocks) / (1.0 - occupancy));
  if (!(for_occupancy < 1e15)) return std::numeric_limits<int64_t>::max();
  return std::max(4 * request_blocks, static_cast<int64_t>(for_occupancy));
}

core::BlockList place(core::AllocatorKind kind, int64_t pool_blocks, double occupancy,
                      uint64_t seed, int64_t request_blocks, const char* side) {
  auto allocator = core::make_allocator(kind, pool_blocks);
  core::PoolHistoryOptions options;
  options.occupancy = occupancy;
  options.seed = seed;
  core::fill_pool(*allocator, options);
  core::BlockList blocks;
  if (!allocator->allocate(request_blocks, blocks)) {
    throw_input_error("the request needs " + std::to_string(request_blocks) + " blocks but the " +
                      side + " pool of " + std::to_string(pool_blocks) + " blocks at occupancy " +
                      std::to_string(occupancy) + " has only " +
                      std::to_string(allocator->num_free()) +
                      " free: raise --pool-blocks or lower --occupancy");
  }
  return blocks;
}

// What the model is: its KV per token (the shape behind it) and its weights.
void print_model(const core::ModelSpec& spec) {
  const core::KvGeometry g = spec.kv_geometry(16, 0);
  if (spec.is_mla()) {
    std::printf("model       %s: %d layers, one MLA latent of %d, %d-byte elements = %s bytes of KV per token\n",
                spec.name.c_str(), spec.num_layers, g.head_dim, spec.kv_dtype_bytes,
                grouped(spec.kv_bytes_per_token()).c_str());
  } else {
    std::printf("model       %s: %d layers, %d KV heads x %d, %d-byte elements = %s bytes of KV per token\n",
                spec.name.c_str(), spec.num_layers, spec.num_kv_heads, spec.head_dim, spec.kv_dtype_bytes,
                grouped(spec.kv_bytes_per_token()).c_str());
  }
  if (spec.window.num_layers > 0) {
    std::printf("windows     %d of %d layers keep only their last %s tokens (%s KV bytes per token beyond)\n",
                spec.window.num_layers, spec.num_layers, grouped(spec.window.tokens).c_str(),
                grouped(spec.kv_bytes_per_token_per_layer() * (spec.num_layers - spec.window.num_layers)).c_str());
  }
  const double gib = static_cast<double>(int64_t{1} << 30);
  std::printf("weights     %s parameters, %s per token%s, %.1f GiB%s\n", grouped(spec.num_params()).c_str(),
              grouped(spec.active_params()).c_str(), spec.is_moe() ? " (active)" : "",
              static_cast<double>(spec.weight_bytes()) / gib,
              spec.quant.method.empty() ? "" : (" (" + spec.quant.method + ")").c_str());
}

int run_plan(const Args& args) {
  po::options_description options("kv plan options");
  std::string model;
  int64_t tokens = 0;
  int32_t block_size = 16;
  double occupancy = 0.0;
  std::string seed_text = "1";
  int64_t pool_blocks = 0;
  std::string kv_dtype = "auto";
  std::string accept;
  bool json_out = false;
  // clang-format off
  options.add_options()
      ("model", po::value(&model)->required(),
       "model name (see scenarios/models/) or path to a config.json")
      ("tokens", po::value(&tokens)->required(), "tokens in the request (>= 1)")
      ("block-size", po::value(&block_size)->default_value(16), "tokens per KV block")
      ("occupancy", po::value(&occupancy)->default_value(0.0),
       "fraction of each pool in use before the request, in [0, 1): reached by a seeded "
       "random alloc/free history; 0 = empty pools")
      ("seed", po::value(&seed_text)->default_value("1"),
       "seed of the pre-fill history (source pool: S, destination pool: S + 1)")
      ("pool-blocks", po::value(&pool_blocks)->default_value(0),
       "blocks per pool; 0 = max(4 x request, 2 x request / (1 - occupancy))")
      ("kv-dtype", po::value(&kv_dtype)->default_value("auto"),
       "KV cache element: auto (the model's dtype), bf16, fp16, fp8")
      ("accept-unmodelled", po::value(&accept),
       "read the config although it has these keys FlowKV does not model (comma-separated, or all)")
      ("json", po::bool_switch(&json_out), "print one JSON object instead of the table");
  // clang-format on
  po::variables_map vm;
  if (!parse_args(kPlanUsage, args, options, {}, vm)) return 0;

  if (tokens < 1) throw_input_error("--tokens " + std::to_string(tokens) + ": expected >= 1");
  if (block_size < 1 || block_size > (1 << 20)) {
    throw_input_error("--block-size " + std::to_string(block_size) + ": expected 1 .. 1048576");
  }
  if (!(occupancy >= 0.0 && occupancy < 1.0)) {
    throw_input_error("--occupancy " + std::to_string(occupancy) +
                      ": expected a fraction in [0, 1)");
  }
  const uint64_t seed = parse_seed(seed_text);
  if (pool_blocks < 0) {
    throw_input_error("--pool-blocks " + std::to_string(pool_blocks) +
                      ": expected >= 1 (or 0 for the default)");
  }

  core::ModelReadOptions read;
  if (accept == "all") {
    read.accept_all = true;
  } else {
    for (size_t at = 0; at < accept.size();) {
      const size_t comma = std::min(accept.find(',', at), accept.size());
      if (comma == at) throw_input_error("--accept-unmodelled '" + accept + "': expected KEY[,KEY...] or all");
      read.accept_unmodelled.push_back(accept.substr(at, comma - at));
      at = comma + 1;
    }
  }
  core::ModelSpec spec = core::find_model(model, read);
  const int32_t kv_bytes = core::parse_kv_dtype(kv_dtype, "--kv-dtype");
  if (kv_bytes > 0) spec.kv_dtype_bytes = kv_bytes;
  for (const std::string& u : spec.unmodelled) std::fprintf(stderr, "warning: model config key %s; accepted, so the figures leave it out\n", u.c_str());
  const int64_t request_blocks = spec.kv_geometry(block_size, 0).blocks_for_tokens(tokens);
  const int64_t pool =
      pool_blocks > 0 ? pool_blocks : default_pool_blocks(request_blocks, occupancy);
  constexpr int64_t kMaxPool = std::numeric_limits<uint32_t>::max();
  if (pool > kMaxPool) {
    throw_input_error("a pool of " + std::to_string(pool) +
                      " blocks does not fit 32-bit block ids (at most " + std::to_string(kMaxPool) +
                      "): lower --tokens or --occupancy, or raise --block-size");
  }
  if (pool < request_blocks) {
    throw_input_error("--pool-blocks " + std::to_string(pool) + ": the request alone needs " +
                      std::to_string(request_blocks) + " blocks");
  }

  std::vector<Placement> placements;
  for (core::AllocatorKind kind : {core::AllocatorKind::kSegment, core::AllocatorKind::kFreeList}) {
    placements.push_back(
        Placement{kind, place(kind, pool, occupancy, seed, request_blocks, "source"),
                  place(kind, pool, occupancy, seed + 1, request_blocks, "destination")});
  }
  std::vector<PlanRow> rows;
  for (core::LayoutKind layout_kind :
       {core::LayoutKind::kPagedPerLayer, core::LayoutKind::kBlockContiguous}) {
    const core::KvLayout layout{layout_kind, spec.kv_geometry(block_size, pool)};
    for (bool merge : {false, true}) {
      for (const Placement& p : placements) {
        const auto mode = merge ? core::TransferMode::kMerged : core::TransferMode::kPerBlock;
        rows.push_back(PlanRow{layout_kind, merge, p.allocator,
                               core::count_transfer(layout, p.src, layout, p.dst, mode)});
      }
    }
  }
  const core::KvGeometry geometry = spec.kv_geometry(block_size, pool);
  const int64_t bytes = request_blocks * geometry.block_bytes();
  auto mean = [](const core::TransferCost& c) {
    return c.calls == 0 ? 0.0 : static_cast<double>(c.bytes) / static_cast<double>(c.calls);
  };

  if (json_out) {
    nlohmann::ordered_json out;
    out["model"] = spec.name;
    out["params"] = spec.num_params();
    out["active_params"] = spec.active_params();
    out["weight_bytes"] = spec.weight_bytes();
    out["kv_bytes_per_token"] = spec.kv_bytes_per_token();
    out["tokens"] = tokens;
    out["block_size"] = block_size;
    out["blocks"] = request_blocks;
    out["bytes"] = bytes;
    out["plans"] = nlohmann::ordered_json::array();
    for (const PlanRow& r : rows) {
      nlohmann::ordered_json row;
      row["layout"] = core::to_string(r.layout);
      row["merge"] = r.merge;
      row["allocator"] = core::to_string(r.allocator);
      row["calls"] = r.cost.calls;
      row["bytes_per_call_mean"] = mean(r.cost);
      out["plans"].push_back(std::move(row));
    }
    std::cout << out.dump(2) << "\n";
    return 0;
  }

  print_model(spec);
  std::printf("request     %s tokens = %s blocks of %d tokens = %s bytes (whole blocks)\n",
              grouped(tokens).c_str(), grouped(request_blocks).c_str(), block_size,
              grouped(bytes).c_str());
  std::printf(
      "pools       %s blocks each; occupancy before the request %.3g (seed %llu source, %llu "
      "destination)\n",
      grouped(pool).c_str(), occupancy, static_cast<unsigned long long>(seed),
      static_cast<unsigned long long>(seed + 1));
  for (const Placement& p : placements) {
    std::printf("placement   %-9s request spans %s run(s) on the source, %s on the destination\n",
                core::to_string(p.allocator), grouped(static_cast<int64_t>(p.src.size())).c_str(),
                grouped(static_cast<int64_t>(p.dst.size())).c_str());
  }
  std::printf("\n%-11s %-6s %-10s %14s %16s\n", "layout", "merge", "allocator", "calls",
              "bytes/call");
  for (const PlanRow& r : rows) {
    std::printf("%-11s %-6s %-10s %14s %16s\n", core::to_string(r.layout), r.merge ? "on" : "off",
                core::to_string(r.allocator), grouped(r.cost.calls).c_str(),
                grouped(std::llround(mean(r.cost))).c_str());
  }
  return 0;
}

int run_kv(const Args& args) {
  if (!args.empty() && (args[0] == "--help" || args[0] == "-h")) {
    std::cout << "usage: flowkv kv <subcommand> [options]\n\nsubcommands:\n"
                 "  plan   transfer calls and bytes of one request for each layout, merging and "
                 "allocator\n        "
              << kPlanUsage << "\n";
    return 0;
  }
  if (args.empty())
    throw_input_error("missing subcommand: expected 'flowkv kv plan ...' (see flowkv kv --help)");
  if (args[0] == "plan") return run_plan(Args(args.begin() + 1, args.end()));
  throw_input_error("unknown kv subcommand '" + args[0] +
                    "': expected plan (see flowkv kv --help)");
}

}  // namespace

FLOWKV_COMMAND("kv", "KV layout and transfer planning: `flowkv kv plan` counts a request's copies",
               run_kv);

}  // namespace flowkv::cli
