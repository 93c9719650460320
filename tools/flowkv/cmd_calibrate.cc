// flowkv calibrate: time the real executor (CPU or CUDA) over a grid of batch shapes and the
// transport over calls x bytes, measure the live backend's overhead with a short live run, and
// write the raw timings as a profile for the simulator's calibrated cost model
// (docs/calibration.md).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <sstream>
#include <string>
#include <thread>

#include <unistd.h>

#include "core/base/error.h"
#include "core/sched/load_scenario.h"
#include "runtime/calib/calibrate.h"
#include "runtime/live/live_run.h"
#include "sim/calibrated_model.h"
#include "sim/run.h"
#include "tools/flowkv/command.h"
#include "tools/flowkv/live_device.h"
#include "tools/report/report.h"

#ifndef FLOWKV_VERSION
#define FLOWKV_VERSION "unknown"
#endif

namespace flowkv::cli {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const char* const kUsage =
    "flowkv calibrate --fit PROFILE.json  |  flowkv calibrate (--model NAME | --scenario FILE) --out PROFILE.json "
    "[--device cpu|cuda] [--weights DIR] "
    "[--threads N] [--layouts paged,contiguous] [--block-size N] [--max-tokens N] [--max-batch N] [--max-context N] "
    "[--density N] [--repeats N] [--warmup N] [--point-budget-s S] [--probe-requests N] [--no-transfers] [--dry-run] "
    "[--set json.path=value]... [--seed S] [--quiet]";

// A 1P1D probe scenario for a model given without a scenario.
json default_probe(const std::string& model, int32_t block_size, const std::string& layout) {
  return json{{"name", "calibrate-probe"},
              {"cluster", {{"nodes", json::array({{{"gpu", "H100-SXM"}, {"role", "prefill"}},
                                                  {{"gpu", "H100-SXM"}, {"role", "decode"}}})}}},
              {"model", model},
              {"kv", {{"block_size", block_size}, {"layout", layout}}},
              {"workload", {{"generator", {{"kind", "none"}}}}}};
}

int64_t batch_param(const core::Scenario& s, const char* key, int64_t fallback) {
  const json& p = s.batch.params;
  if (p.is_object() && p.contains(key) && p[key].is_number_integer()) return p[key].get<int64_t>();
  return fallback;
}

std::vector<core::LayoutKind> parse_layouts(const std::string& text) {
  std::vector<core::LayoutKind> out;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    core::LayoutKind k;
    if (item == "paged") {
      k = core::LayoutKind::kPagedPerLayer;
    } else if (item == "contiguous") {
      k = core::LayoutKind::kBlockContiguous;
    } else {
      core::throw_input_error("--layouts: unknown layout '" + item + "' (expected paged, contiguous or both, comma-separated)");
    }
    if (std::find(out.begin(), out.end(), k) == out.end()) out.push_back(k);
  }
  if (out.empty()) core::throw_input_error("--layouts: expected paged, contiguous or both");
  return out;
}

std::string joined_command(const Args& args) {
  std::string c = "flowkv calibrate";
  for (const std::string& a : args) {
    const bool plain = !a.empty() && a.find_first_of(" \t\"'$\\") == std::string::npos;
    c += " " + (plain ? a : json(a).dump());
  }
  return c;
}

int calibrate(const Args& args) {
  po::options_description opts("options");
  std::string model_name, scenario_path, out_file, device = "cpu", weights, layouts;
  int32_t threads = 0, block_size = 16, density = 5, repeats = 5, warmup = 1, probe_requests = 48;
  int64_t max_tokens = 0, max_batch = 0, max_context = 0;
  double point_budget_s = 1.0;
  uint64_t seed = 1;
  opts.add_options()
      ("model", po::value<std::string>(&model_name), "model to time (a catalogue name or a config.json path)")
      ("scenario", po::value<std::string>(&scenario_path),
       "take the model, block size, layout, batch limits, longest context and nodes from this scenario")
      ("out", po::value<std::string>(&out_file), "the profile to write (JSON, docs/calibration.md)")
      ("fit", po::value<std::string>(), "time nothing: read this profile, fit it and print the fit and its held-back error")
      ("device", po::value<std::string>(&device), "cpu (default) or cuda")
      ("weights", po::value<std::string>(&weights), "Hugging Face safetensors folder (default: random weights from the seed)")
      ("threads", po::value<int32_t>(&threads), "CPU threads per node (default: cores / nodes, as flowkv live)")
      ("layouts", po::value<std::string>(&layouts),
       "layouts to time: paged, contiguous or paged,contiguous (default: the scenario's, else both)")
      ("block-size", po::value<int32_t>(&block_size), "tokens per KV block without a scenario (default 16)")
      ("max-tokens", po::value<int64_t>(&max_tokens), "largest iteration in tokens (default: max_batched_tokens, 8192)")
      ("max-batch", po::value<int64_t>(&max_batch), "largest decode batch (default: max_num_seqs, 256)")
      ("max-context", po::value<int64_t>(&max_context),
       "longest context (default: the scenario trace's longest prompt + output, else 4096)")
      ("density", po::value<int32_t>(&density), "grid values per axis, 2..12 (default 5)")
      ("repeats", po::value<int32_t>(&repeats), "timed runs per point, their median is kept (default 5)")
      ("warmup", po::value<int32_t>(&warmup), "untimed runs before them (default 1)")
      ("point-budget-s", po::value<double>(&point_budget_s),
       "stop repeating a point once its timed runs add up to this many seconds (default 1)")
      ("probe-requests", po::value<int32_t>(&probe_requests),
       "requests of the short live run that measures the backend's overhead (default 48; 0 skips it)")
      ("no-transfers", "do not time the transport")
      ("dry-run", "time nothing: print the grid's shapes per phase and the largest one's KV, then exit")
      ("set", po::value<std::vector<std::string>>()->composing(), "override a key of the scenario (json.path=value)")
      ("seed", po::value<uint64_t>(&seed), "random weights and token ids (default: the scenario's seed, else 1)")
      ("quiet", "no progress line");
  po::variables_map vm;
  if (!parse_args(kUsage, args, opts, {}, vm)) return 0;
  if (vm.count("fit")) {
    if (vm.size() > 1) core::throw_input_error("--fit takes no other option (usage: " + std::string(kUsage) + ")");
    const core::CalibrationProfile p = core::load_profile(vm["fit"].as<std::string>());
    const sim::CalibratedModel fitted(p);
    std::printf("profile %s: %s, %s, %zu iteration points, %zu transfer points\n", vm["fit"].as<std::string>().c_str(),
                p.device.c_str(), p.model.name.c_str(), p.iterations.size(), p.transfers.size());
    std::printf("fit (relative error of run() time; held = points left out of the fit):\n%s", fitted.fit_table().c_str());
    std::printf("%s\n", fitted.fit_json().dump(1).c_str());
    return 0;
  }
  if (model_name.empty() == scenario_path.empty()) core::throw_input_error("give --model or --scenario (one of them)");
  if (out_file.empty() && !vm.count("dry-run")) core::throw_input_error("--out: missing (the profile to write)");
  if (vm.count("threads") && threads < 1) core::throw_input_error("--threads: expected at least 1");
  if (block_size < 1 || block_size > 4096) core::throw_input_error("--block-size: expected 1..4096");
  if (vm.count("max-tokens") && max_tokens < 1) core::throw_input_error("--max-tokens: expected at least 1");
  if (vm.count("max-batch") && max_batch < 1) core::throw_input_error("--max-batch: expected at least 1");
  if (vm.count("max-context") && max_context < 2) core::throw_input_error("--max-context: expected at least 2");
  if (density < 2 || density > 12) core::throw_input_error("--density: expected 2..12");
  if (repeats < 1 || repeats > 1000) core::throw_input_error("--repeats: expected 1..1000");
  if (warmup < 0 || warmup > 100) core::throw_input_error("--warmup: expected 0..100");
  if (!(point_budget_s > 0)) core::throw_input_error("--point-budget-s: expected a positive number of seconds");
  if (probe_requests < 0 || probe_requests > 100000) core::throw_input_error("--probe-requests: expected 0..100000");
  if (vm.count("scenario") && vm.count("block-size")) core::throw_input_error("--block-size: the scenario sets it (use --set kv.block_size=N)");

  // The probe scenario: the given one (its pool sized for the probe, no faults), or a 1P1D one.
  core::ScenarioOverrides o;
  if (vm.count("set")) o.sets = vm["set"].as<std::vector<std::string>>();
  o.sets.push_back("kv.num_blocks=4096");
  o.sets.push_back("faults=[]");
  std::optional<core::Scenario> scenario;
  if (!scenario_path.empty()) {
    scenario = core::load_scenario(scenario_path, o);
  } else {
    json root = default_probe(model_name, block_size, layouts.empty() || layouts.rfind("contiguous", 0) == 0 ? "contiguous" : "paged");
    core::apply_overrides(root, o);
    scenario = core::parse_scenario(root, "the calibrate probe scenario", fs::current_path());
  }
  const core::Scenario& s = *scenario;
  runtime::check_live_model(s.model);

  runtime::CalibrationGrid grid;
  grid.block_size = s.block_size;
  grid.layouts = layouts.empty() ? (scenario_path.empty() ? grid.layouts : std::vector<core::LayoutKind>{s.layout})
                                 : parse_layouts(layouts);
  grid.max_tokens = vm.count("max-tokens") ? max_tokens : batch_param(s, "max_batched_tokens", 8192);
  grid.max_batch = vm.count("max-batch") ? max_batch
                                         : std::min(batch_param(s, "max_decode_batch", batch_param(s, "max_num_seqs", 256)),
                                                    grid.max_tokens);
  if (vm.count("max-context")) {
    grid.max_context = max_context;
  } else if (!scenario_path.empty()) {
    int64_t longest = 2;
    for (const core::Request& r : sim::load_scenario_trace(s).requests) longest = std::max(longest, r.prompt_tokens + r.output_tokens);
    grid.max_context = longest;
  } else {
    grid.max_context = 4096;
  }
  if (s.model.max_context > 1) grid.max_context = std::min(grid.max_context, s.model.max_context);
  grid.density = density;
  grid.repeats = repeats;
  grid.warmup = warmup;
  grid.point_budget_s = point_budget_s;
  grid.transfers = vm.count("no-transfers") == 0;
  grid.seed = vm.count("seed") ? seed : s.seed;

  LiveDeviceOptions dopts;
  dopts.kind = device;
  dopts.weights_dir = weights;
  dopts.seed = grid.seed;
  dopts.threads = threads;
  dopts.nodes = static_cast<int32_t>(s.nodes.size());
  const int32_t cores = static_cast<int32_t>(std::max(1u, std::thread::hardware_concurrency()));
  const int32_t used_threads = threads > 0 ? threads : std::max(1, cores / std::max(1, dopts.nodes));
  const std::vector<runtime::GridPoint> points = runtime::iteration_grid(grid);
  int64_t per_phase[core::kNumPhases] = {0, 0, 0};
  for (const runtime::GridPoint& p : points) ++per_phase[static_cast<int>(core::phase_of(p.shape()))];
  for (int ph = 0; ph < core::kNumPhases; ++ph) {
    if (per_phase[ph] < core::kMinProfilePoints) {
      core::throw_input_error("the grid has " + std::to_string(per_phase[ph]) + " " +
                              core::to_string(static_cast<core::IterationPhase>(ph)) + " shapes, the fit needs at least " +
                              std::to_string(core::kMinProfilePoints) +
                              ": raise --density or widen --max-tokens / --max-batch / --max-context");
    }
  }
  if (vm.count("dry-run")) {
    int64_t most_blocks = 0;
    for (const runtime::GridPoint& p : points) most_blocks = std::max(most_blocks, p.blocks(grid.block_size));
    const core::KvGeometry unit = s.model.kv_geometry(grid.block_size, 1);
    std::printf("calibrate --dry-run: %s, %zu layout(s), tokens <= %lld, batch <= %lld, context <= %lld, density %d: "
                "%zu iteration shapes per layout (%lld prefill, %lld decode, %lld mixed); the largest needs %lld KV blocks "
                "(%.2f GB; shapes that do not fit the device's pool are skipped)\n",
                s.model.name.c_str(), grid.layouts.size(), static_cast<long long>(grid.max_tokens),
                static_cast<long long>(grid.max_batch), static_cast<long long>(grid.max_context), grid.density, points.size(),
                static_cast<long long>(per_phase[0]), static_cast<long long>(per_phase[1]),
                static_cast<long long>(per_phase[2]), static_cast<long long>(most_blocks),
                1e-9 * static_cast<double>(most_blocks * unit.block_bytes()));
    return 0;
  }
  std::unique_ptr<runtime::Device> dev = make_live_device(s.model, dopts);
  std::fprintf(stderr, "calibrate: %s on %s: %zu iteration shapes x %zu layout(s) (tokens <= %lld, batch <= %lld, context <= %lld)%s\n",
               s.model.name.c_str(), dev->name().c_str(), points.size(), grid.layouts.size(),
               static_cast<long long>(grid.max_tokens), static_cast<long long>(grid.max_batch),
               static_cast<long long>(grid.max_context), grid.transfers ? ", transfers" : "");

  const bool show = vm.count("quiet") == 0 && isatty(fileno(stderr));
  const auto started = std::chrono::steady_clock::now();
  auto progress = [&](const runtime::CalibrationProgress& p) {
    if (show) std::fprintf(stderr, "\r  %-24s %5lld / %-5lld", p.what.c_str(), static_cast<long long>(p.done), static_cast<long long>(p.total));
  };
  core::CalibrationProfile profile = runtime::calibrate_executor(*dev, s.model, grid, progress);
  if (show) std::fprintf(stderr, "\r%60s\r", "");
  const double grid_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (probe_requests > 0) {
    std::fprintf(stderr, "calibrate: overhead probe: a live run of %d requests at once on %zu nodes\n", probe_requests, s.nodes.size());
    runtime::measure_live_overhead(*dev, s, probe_requests, profile);
  } else {
    profile.overhead_detail = {{"method", "not measured (--probe-requests 0)"}};
  }
  const double total_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

  profile.command = joined_command(args);
  profile.versions = {{"flowkv", FLOWKV_VERSION}, {"compiler", __VERSION__}, {"device_kind", device},
                      {"weights", weights.empty() ? "random from the seed" : weights}};
  profile.settings["threads_per_node"] = device == "cpu" ? used_threads : 0;
  profile.settings["probe_scenario"] = s.name;
  profile.settings["grid_s"] = grid_s;
  profile.settings["total_s"] = total_s;

  // What is written must read back: the same parser the simulator uses, then the fit.
  const nlohmann::ordered_json text = core::profile_to_json(profile);
  const core::CalibrationProfile back = core::parse_profile(json::parse(text.dump()), out_file);
  const fs::path out(out_file);
  if (out.has_parent_path()) fs::create_directories(out.parent_path());
  report::write_file_atomically(out, text.dump(1) + "\n");

  std::printf("calibrate: %zu iteration points, %zu transfer points, %zu overhead gaps in %.1f s on %s\n",
              back.iterations.size(), back.transfers.size(), back.overhead_gaps_s.size(), total_s, back.device.c_str());
  const sim::CalibratedModel fitted(back);
  std::printf("fit (relative error of run() time; held = points left out of the fit):\n%s", fitted.fit_table().c_str());
  std::printf("wrote %s\n", out.string().c_str());
  return 0;
}

}  // namespace

FLOWKV_COMMAND("calibrate", "time the real executor over a grid and write a profile for the calibrated cost model", calibrate);

}  // namespace flowkv::cli
