// Calibration's grid covers what live runs submit (prefill chunks up to the token budget with
// cached context, decode batches up to the batch cap with contexts up to the longest, mixed
// iterations within the budget), and timing the CPU executor over a tiny grid gives a profile
// the simulator accepts: every phase of each layout, positive medians, transfers, and the
// overhead probe's gaps.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>

#include "core/sched/load_scenario.h"
#include "runtime/calib/calibrate.h"
#include "runtime/cpu/cpu_executor.h"
#include "runtime/model/model_weights.h"

namespace flowkv::runtime {
namespace {

using core::IterationPhase;

TEST(CalibrationGrid, CoversWhatLiveRunsSubmit) {
  CalibrationGrid g;
  g.max_tokens = 8192;
  g.max_batch = 64;
  g.max_context = 4176;
  const std::vector<GridPoint> grid = iteration_grid(g);
  int64_t counts[3] = {0, 0, 0};
  int64_t longest_chunk = 0, biggest_batch = 0, longest_context = 0, most_tokens = 0, chunk_with_context = 0;
  for (const GridPoint& p : grid) {
    const core::IterationShape s = p.shape();
    ++counts[static_cast<int>(core::phase_of(s))];
    EXPECT_LE(s.prefill_tokens + s.decode_items, g.max_tokens);
    EXPECT_LE(s.decode_items, g.max_batch);
    most_tokens = std::max(most_tokens, s.prefill_tokens);
    biggest_batch = std::max(biggest_batch, s.decode_items);
    for (const auto& [c, ctx] : p.prefill) {
      EXPECT_LE(c + ctx, g.max_context);
      longest_chunk = std::max(longest_chunk, c);
      if (ctx > 0) ++chunk_with_context;
    }
    for (const int64_t ctx : p.decode) {
      EXPECT_LT(ctx, g.max_context);
      longest_context = std::max(longest_context, ctx);
    }
  }
  for (int ph = 0; ph < 3; ++ph) EXPECT_GE(counts[ph], core::kMinProfilePoints) << ph;
  EXPECT_EQ(longest_chunk, 4176);         // one prompt as long as the longest context
  EXPECT_EQ(most_tokens, 8190);           // several prompts filling the budget (12 x 682)
  EXPECT_EQ(biggest_batch, 64);
  EXPECT_EQ(longest_context, 4175);
  EXPECT_GT(chunk_with_context, 5);
  EXPECT_EQ(iteration_grid(g).size(), grid.size());  // pure
}

TEST(Calibrate, TinyGridOnTheCpuGivesAProfileOfEveryPhase) {
  const core::ModelSpec model = core::find_model("tiny-llama");
  CpuDevice device(std::make_shared<const ModelWeights>(random_weights(model, 1)), CpuDeviceOptions{1, 0});
  CalibrationGrid g;
  g.layouts = {core::LayoutKind::kBlockContiguous, core::LayoutKind::kPagedPerLayer};
  g.max_tokens = 128;
  g.max_batch = 8;
  g.max_context = 256;
  g.density = 4;
  g.repeats = 2;
  g.warmup = 0;
  int64_t calls = 0;
  core::CalibrationProfile p = calibrate_executor(device, model, g, [&](const CalibrationProgress&) { ++calls; });
  EXPECT_GT(calls, 0);
  EXPECT_EQ(p.model.num_layers, model.num_layers);
  EXPECT_EQ(p.iterations.size(), 2 * iteration_grid(g).size());
  for (const core::ProfileIteration& it : p.iterations) {
    EXPECT_GT(it.median_s, 0);
    EXPECT_FALSE(it.times_s.empty());
  }
  EXPECT_GE(p.transfers.size(), static_cast<size_t>(core::kMinProfilePoints));
  for (const core::LayoutKind l : g.layouts) EXPECT_NO_THROW(core::check_profile_fits(p, model, 16, l));

  const core::Scenario probe = core::parse_scenario(nlohmann::json::parse(R"({
    "cluster": {"nodes": [{"gpu": "H100-SXM", "role": "prefill"}, {"gpu": "H100-SXM", "role": "decode"}]},
    "model": "tiny-llama", "kv": {"num_blocks": 1024}, "workload": {"trace": "unused.csv"}})"),
                                                    "probe", ".");
  measure_live_overhead(device, probe, 6, p);
  EXPECT_GT(p.overhead_gaps_s.size(), 5u);
  EXPECT_EQ(p.overhead_transfers.size(), 6u);
  EXPECT_EQ(p.overhead_detail["completed"], 6);
  // It reads back as written (the same keys and values; a plain json reader orders the keys).
  const core::CalibrationProfile back = core::parse_profile(nlohmann::json::parse(core::profile_to_json(p).dump()), "x");
  EXPECT_EQ(nlohmann::json::parse(core::profile_to_json(back).dump()), nlohmann::json::parse(core::profile_to_json(p).dump()));
  EXPECT_EQ(back.iterations.size(), p.iterations.size());
  EXPECT_EQ(back.overhead_gaps_s, p.overhead_gaps_s);
}

}  // namespace
}  // namespace flowkv::runtime
