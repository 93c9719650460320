#include "runtime/calib/calibrate.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <random>
#include <set>

#include "core/base/error.h"
#include "runtime/live/live_run.h"
#include "runtime/transport.h"
#include "traces/trace.h"

namespace flowkv::runtime {

using core::IterationShape;
using core::LayoutKind;

namespace {

// `n` values from lo to hi (both included when n >= 2), evenly spaced on a log scale, rounded,
// without repeats.
std::vector<int64_t> geometric(int64_t lo, int64_t hi, int32_t n) {
  std::vector<int64_t> out;
  lo = std::max<int64_t>(1, lo);
  if (hi < lo) return out;
  if (n <= 1 || hi == lo) return {hi};
  for (int32_t i = 0; i < n; ++i) {
    const double v = std::exp(std::log(static_cast<double>(lo)) +
                              (std::log(static_cast<double>(hi)) - std::log(static_cast<double>(lo))) * i / (n - 1));
    const int64_t r = std::clamp<int64_t>(std::llround(v), lo, hi);
    if (out.empty() || r > out.back()) out.push_back(r);
  }
  return out;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

IterationShape GridPoint::shape() const {
  IterationShape s;
  for (const auto& [c, p] : prefill) {
    ++s.prefill_items;
    s.prefill_tokens += c;
    s.prefill_context += p;
    s.attention_pairs += c * p + c * (c + 1) / 2;
  }
  for (const int64_t ctx : decode) {
    ++s.decode_items;
    s.decode_context += ctx;
  }
  return s;
}

int64_t GridPoint::blocks(int32_t block_size) const {
  int64_t n = 0;
  for (const auto& [c, p] : prefill) n += (c + p + block_size - 1) / block_size;
  for (const int64_t ctx : decode) n += (ctx + 1 + block_size - 1) / block_size;
  return n;
}

std::vector<GridPoint> iteration_grid(const CalibrationGrid& g) {
  FLOWKV_CHECK(g.max_tokens >= 1 && g.max_batch >= 1 && g.max_context >= 2 && g.density >= 2, "a degenerate grid");
  const int32_t n = g.density;
  std::vector<GridPoint> out;
  std::set<std::pair<std::vector<std::pair<int64_t, int64_t>>, std::vector<int64_t>>> seen;
  auto add = [&](GridPoint p) {
    if (seen.insert({p.prefill, p.decode}).second) out.push_back(std::move(p));
  };
  // Prefill: one chunk of c tokens after p cached ones (c + p within the longest context), and
  // batches of k prompts sharing the iteration's token budget (what prefill-first batching sends).
  const int64_t longest_chunk = std::min(g.max_tokens, g.max_context);
  for (const int64_t c : geometric(16, longest_chunk, n + 1)) {
    add(GridPoint{{{c, 0}}, {}});
    for (const int64_t p : geometric(std::max<int64_t>(c, 64), g.max_context - c, n / 2)) {
      if (p >= 1 && c + p <= g.max_context) add(GridPoint{{{c, p}}, {}});
    }
  }
  for (const int64_t total : geometric(256, g.max_tokens, n - 1)) {
    for (const int64_t k : {int64_t{3}, int64_t{12}}) {
      const int64_t each = total / k;
      if (each < 8 || each > g.max_context) continue;
      GridPoint p;
      for (int64_t i = 0; i < k; ++i) p.prefill.emplace_back(each, 0);
      add(std::move(p));
    }
  }
  // Decode: B steps, each at context ctx.
  for (const int64_t b : geometric(1, g.max_batch, n + 1)) {
    for (const int64_t ctx : geometric(32, g.max_context - 1, n)) {
      add(GridPoint{{}, std::vector<int64_t>(static_cast<size_t>(b), ctx)});
    }
  }
  // Mixed (chunked prefill): one chunk with cached context, plus B decode steps.
  for (const int64_t c : geometric(32, std::max<int64_t>(32, std::min(g.max_tokens, g.max_context) / 2), n - 1)) {
    for (const int64_t b : geometric(1, g.max_batch, n - 1)) {
      if (c + b > g.max_tokens) continue;
      // The short context with one chunk; the long one with the chunk cut in three (a chunk of
      // one prompt beside whole short prompts), so that items and the constant part can be told apart.
      const std::vector<int64_t> contexts = geometric(64, g.max_context - c - 1, 2);
      for (size_t i = 0; i < contexts.size(); ++i) {
        const int64_t ctx = contexts[i];
        GridPoint p;
        const int64_t pieces = i == 0 || c < 3 ? 1 : 3;
        for (int64_t k = 0; k < pieces; ++k) {
          p.prefill.emplace_back(c / pieces + (k < c % pieces ? 1 : 0), std::min<int64_t>(ctx, g.max_context - c));
        }
        p.decode.assign(static_cast<size_t>(b), ctx);
        add(std::move(p));
      }
    }
  }
  return out;
}

std::vector<std::pair<int64_t, int64_t>> transfer_grid(const CalibrationGrid& g, int64_t piece_bytes, int64_t max_bytes) {
  std::vector<std::pair<int64_t, int64_t>> out;
  for (const int64_t calls : geometric(1, 1024, g.density)) {
    for (const int64_t per_call : geometric(piece_bytes, piece_bytes * 256, std::max(2, g.density / 2 + 1))) {
      if (calls * per_call <= max_bytes) out.emplace_back(calls, calls * per_call);
    }
  }
  return out;
}

core::CalibrationProfile calibrate_executor(Device& device, const core::ModelSpec& model, const CalibrationGrid& g,
                                            const std::function<void(const CalibrationProgress&)>& progress) {
  core::CalibrationProfile profile;
  profile.device = device.name();
  profile.model = core::profile_model_of(model);
  profile.block_size = g.block_size;
  const std::vector<GridPoint> grid = iteration_grid(g);

  // One pool large enough for the largest point, within what the device has free.
  int64_t need = 1;
  for (const GridPoint& p : grid) need = std::max(need, p.blocks(g.block_size));
  const core::KvGeometry unit = model.kv_geometry(g.block_size, 1);
  const int64_t fit = std::max<int64_t>(1, static_cast<int64_t>(0.9 * static_cast<double>(device.free_bytes())) /
                                              std::max<int64_t>(1, unit.block_bytes()));
  const int64_t pool_blocks = std::min(need, fit);
  int64_t skipped = 0;

  std::mt19937_64 rng(g.seed);
  std::vector<int32_t> tokens(static_cast<size_t>(g.max_tokens + g.max_batch + 16));
  for (int32_t& t : tokens) t = static_cast<int32_t>(rng() % static_cast<uint64_t>(model.vocab_size));

  for (const LayoutKind layout_kind : g.layouts) {
    core::KvLayout layout;
    layout.kind = layout_kind;
    layout.geometry = model.kv_geometry(g.block_size, pool_blocks);
    std::unique_ptr<NodeExecutor> node = device.make_node(layout);
    std::vector<int64_t> block_ids(static_cast<size_t>(pool_blocks));
    for (int64_t i = 0; i < pool_blocks; ++i) block_ids[static_cast<size_t>(i)] = i;
    int64_t done = 0;
    for (const GridPoint& point : grid) {
      if (progress) progress({std::string(core::to_string(layout_kind)) + " iterations", done, static_cast<int64_t>(grid.size())});
      ++done;
      if (point.blocks(g.block_size) > pool_blocks) {
        ++skipped;
        continue;
      }
      // Items in the order the controller builds them (prefill chunks, then decode steps), each on
      // its own run of consecutive blocks.
      std::vector<ExecItem> items;
      int64_t block = 0, token = 0;
      auto add = [&](int64_t n_tokens, int64_t start) {
        ExecItem it;
        it.request = core::RequestId{items.size()};
        it.tokens = std::span<const int32_t>(tokens.data() + token, static_cast<size_t>(n_tokens));
        it.start = start;
        const int64_t nb = (start + n_tokens + g.block_size - 1) / g.block_size;
        it.blocks = std::span<const int64_t>(block_ids.data() + block, static_cast<size_t>(nb));
        it.sample = true;
        block += nb;
        token += n_tokens;
        items.push_back(it);
      };
      for (const auto& [c, p] : point.prefill) add(c, p);
      for (const int64_t ctx : point.decode) add(1, ctx);
      std::vector<int32_t> next(items.size(), -1);
      for (int32_t w = 0; w < g.warmup; ++w) node->run(items, next);
      core::ProfileIteration it;
      it.layout = layout_kind;
      it.shape = point.shape();
      double spent = 0;
      for (int32_t r = 0; r < std::max(1, g.repeats); ++r) {
        const auto t0 = std::chrono::steady_clock::now();
        node->run(items, next);
        const double s = seconds_since(t0);
        it.times_s.push_back(s);
        spent += s;
        if (spent >= g.point_budget_s) break;
      }
      it.median_s = core::median_of(it.times_s);
      profile.iterations.push_back(std::move(it));
    }
  }

  if (g.transfers) {
    core::KvLayout layout;
    layout.kind = g.layouts.empty() ? LayoutKind::kBlockContiguous : g.layouts.front();
    const int64_t blocks = std::max<int64_t>(1, std::min<int64_t>(fit / 2, 4096));
    layout.geometry = model.kv_geometry(g.block_size, blocks);
    std::unique_ptr<NodeExecutor> src = device.make_node(layout);
    std::unique_ptr<NodeExecutor> dst = device.make_node(layout);
    std::unique_ptr<Transport> transport = device.make_transport();
    // The smallest piece a plan copies: one layer's K or V of a block (paged), else one block.
    const int64_t piece = layout.geometry.chunk_bytes();
    const auto points = transfer_grid(g, piece, layout.geometry.pool_bytes());
    int64_t done = 0;
    for (const auto& [calls, bytes] : points) {
      if (progress) progress({"transfers", done++, static_cast<int64_t>(points.size())});
      const int64_t per_call = bytes / calls;
      TransferDesc base;
      base.src = src->kv_data();
      base.dst = dst->kv_data();
      for (int64_t i = 0; i < calls; ++i) base.copies.push_back(core::Copy{i * per_call, i * per_call, per_call});
      auto once = [&]() {
        TransferDesc desc = base;
        const auto t0 = std::chrono::steady_clock::now();
        const TransferId id = transport->submit(std::move(desc));
        const TransferState st = transport->wait(id, core::Duration::seconds(60));
        const double s = seconds_since(t0);
        const std::string why = transport->error(id);
        if (is_final(st)) transport->release(id);
        if (st != TransferState::kCompleted) {
          throw core::Error(core::ErrorKind::kRuntime, std::string("calibration transfer ") + to_string(st) + ": " + why);
        }
        return s;
      };
      for (int32_t w = 0; w < g.warmup; ++w) once();
      core::ProfileTransfer t;
      t.calls = calls;
      t.bytes = bytes;
      double spent = 0;
      for (int32_t r = 0; r < std::max(1, g.repeats); ++r) {
        t.times_s.push_back(once());
        spent += t.times_s.back();
        if (spent >= g.point_budget_s) break;
      }
      t.median_s = core::median_of(t.times_s);
      profile.transfers.push_back(std::move(t));
    }
  }

  nlohmann::ordered_json settings = nlohmann::ordered_json::object();
  settings["block_size"] = g.block_size;
  nlohmann::ordered_json layouts = nlohmann::ordered_json::array();
  for (const LayoutKind l : g.layouts) layouts.push_back(core::to_string(l));
  settings["layouts"] = std::move(layouts);
  settings["max_tokens"] = g.max_tokens;
  settings["max_batch"] = g.max_batch;
  settings["max_context"] = g.max_context;
  settings["density"] = g.density;
  settings["warmup"] = g.warmup;
  settings["repeats"] = g.repeats;
  settings["point_budget_s"] = g.point_budget_s;
  settings["seed"] = g.seed;
  settings["pool_blocks"] = pool_blocks;
  settings["points_skipped"] = skipped;
  profile.settings = std::move(settings);
  return profile;
}

void measure_live_overhead(Device& device, const core::Scenario& probe, int32_t requests, core::CalibrationProfile& profile) {
  // Every request at time 0, so each node stays busy: its gaps are the backend's overhead, not
  // waiting for work.
  traces::Trace trace;
  trace.source = "calibrate overhead probe";
  std::mt19937_64 rng(probe.seed ^ 0x6f76657268656164ULL);
  for (int32_t i = 0; i < requests; ++i) {
    core::Request r;
    r.id = core::RequestId{static_cast<uint64_t>(i)};
    r.arrival = core::Time::zero();
    r.prompt_tokens = 16 + static_cast<int64_t>(rng() % 241);
    r.output_tokens = 16 + static_cast<int64_t>(rng() % 49);
    trace.requests.push_back(r);
  }
  LiveRunOptions options;
  const LiveRunResult result = run_live(probe, trace, device, options);
  std::map<uint32_t, std::vector<const IterationSample*>> by_node;
  for (const IterationSample& s : result.stats.iterations) by_node[s.node].push_back(&s);
  std::vector<double> gaps;
  for (auto& [node, samples] : by_node) {
    std::sort(samples.begin(), samples.end(), [](const auto* a, const auto* b) { return a->started < b->started; });
    for (size_t i = 1; i < samples.size(); ++i) {
      gaps.push_back(std::max(0.0, (samples[i]->started - samples[i - 1]->finished).seconds()));
    }
  }
  profile.overhead_gaps_s = gaps;
  // A node sends its transfers one after another (one sender worker), so a burst queues: what a
  // transfer costs is the time it held the sender, from the later of its submission and the
  // previous completion from the same node to its own completion.
  profile.overhead_transfers.clear();
  std::map<uint16_t, std::vector<const core::RequestRecord*>> by_sender;
  for (const core::RequestRecord& r : result.run.records) {
    if (r.transfer_calls > 0 && r.transfer_start.has_value() && r.transfer_end.has_value() &&
        r.transfer_time == r.transfer_end.value() - r.transfer_start.value()) {
      by_sender[r.prefill_node].push_back(&r);
    }
  }
  for (auto& [node, rs] : by_sender) {
    std::sort(rs.begin(), rs.end(), [](const auto* a, const auto* b) {
      return a->transfer_end.value() != b->transfer_end.value() ? a->transfer_end.value() < b->transfer_end.value()
                                                                : a->id < b->id;
    });
    std::optional<core::Time> previous;
    for (const core::RequestRecord* r : rs) {
      const core::Time from = previous ? std::max(*previous, r->transfer_start.value()) : r->transfer_start.value();
      profile.overhead_transfers.push_back({r->transfer_calls, r->transfer_bytes, (r->transfer_end.value() - from).seconds()});
      previous = r->transfer_end.value();
    }
  }
  nlohmann::ordered_json d = nlohmann::ordered_json::object();
  d["method"] = "a live run of the probe scenario's nodes with every request arriving at once; "
                "iteration_gaps_s: next start - end on the same node; transfers: the time each held its sender "
                "(completion - the later of its submission and the previous completion from that node)";
  d["requests"] = requests;
  d["nodes"] = static_cast<int64_t>(probe.nodes.size());
  d["iterations"] = static_cast<int64_t>(result.stats.iterations.size());
  d["completed"] = result.run.metrics.completed;
  profile.overhead_detail = std::move(d);
  if (!result.stats.errors.empty()) {
    throw core::Error(core::ErrorKind::kRuntime, "calibrate: the overhead probe's live run failed: " + result.stats.errors.front());
  }
}

}  // namespace flowkv::runtime
