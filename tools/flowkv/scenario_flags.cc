#include "tools/flowkv/scenario_flags.h"

#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/base/error.h"

namespace flowkv::cli {

const char* const kScenarioFlagsUsage =
    "[--trace FILE] [--trace-format F] [--model NAME] [--gpu NAME] [--prefill-nodes N] [--decode-nodes M] "
    "[--colocated-nodes K] [--rate-scale X] [--seed S] [--cost-profile FILE] [--set json.path=value]... "
    "[--fault SPEC]... [--accept-unmodelled KEY,...|all]";

void add_scenario_flags(po::options_description& opts, bool with_policy) {
  opts.add_options()
      ("trace", po::value<std::string>(), "replay this trace file instead of the scenario's workload")
      ("trace-format", po::value<std::string>(), "format of --trace (auto, azure, mooncake, ...)")
      ("model", po::value<std::string>(), "model name or config.json path")
      ("gpu", po::value<std::string>(), "GPU of every node group")
      ("prefill-nodes", po::value<int64_t>(), "number of prefill nodes")
      ("decode-nodes", po::value<int64_t>(), "number of decode nodes")
      ("colocated-nodes", po::value<int64_t>(), "number of colocated nodes");
  if (with_policy) {
    opts.add_options()("policy", po::value<std::string>(), "global scheduler (policies.global)");
  }
  opts.add_options()
      ("rate-scale", po::value<double>(), "multiply the arrival rate (workload.rate_scale)")
      ("seed", po::value<uint64_t>(), "random seed")
      ("cost-profile", po::value<std::string>(),
       "price iterations and transfers with a model fitted to this profile of flowkv calibrate "
       "(cost_model.kind = calibrated, cost_model.profile = FILE made absolute; docs/calibration.md)")
      ("set", po::value<std::vector<std::string>>()->composing(), "override json.path=value (repeatable)")
      ("fault", po::value<std::vector<std::string>>()->composing(),
       "inject a fault: node=N,at=SECONDS[,for=SECONDS][,kind=crash|link-slow|link-down][,factor=F] "
       "(repeatable; docs/reliability.md)")
      ("accept-unmodelled", po::value<std::string>(),
       "run although the model config has these keys FlowKV does not model (comma-separated, or "
       "all); summary.json then carries a warning (accept_unmodelled)");
}

core::ScenarioOverrides read_scenario_flags(const po::variables_map& vm) {
  core::ScenarioOverrides o;
  if (vm.count("trace")) o.trace = vm["trace"].as<std::string>();
  if (vm.count("trace-format")) o.trace_format = vm["trace-format"].as<std::string>();
  if (vm.count("model")) o.model = vm["model"].as<std::string>();
  if (vm.count("gpu")) o.gpu = vm["gpu"].as<std::string>();
  if (vm.count("prefill-nodes")) o.prefill_nodes = vm["prefill-nodes"].as<int64_t>();
  if (vm.count("decode-nodes")) o.decode_nodes = vm["decode-nodes"].as<int64_t>();
  if (vm.count("colocated-nodes")) o.colocated_nodes = vm["colocated-nodes"].as<int64_t>();
  if (vm.count("policy")) o.policy = vm["policy"].as<std::string>();
  if (vm.count("rate-scale")) {
    o.rate_scale = vm["rate-scale"].as<double>();
    if (!(*o.rate_scale > 0)) core::throw_input_error("--rate-scale: expected a positive number");
  }
  if (vm.count("seed")) o.seed = vm["seed"].as<uint64_t>();
  if (vm.count("cost-profile")) {
    const std::string file = vm["cost-profile"].as<std::string>();
    if (file.empty()) core::throw_input_error("--cost-profile: expected a profile file (flowkv calibrate --out FILE)");
    // Before the --set values, so that those may still change it.
    o.sets.push_back("cost_model.kind=\"calibrated\"");
    o.sets.push_back("cost_model.profile=" + nlohmann::json(std::filesystem::absolute(file).lexically_normal().string()).dump());
  }
  if (vm.count("set")) {
    for (const std::string& s : vm["set"].as<std::vector<std::string>>()) o.sets.push_back(s);
  }
  if (vm.count("fault")) o.faults = vm["fault"].as<std::vector<std::string>>();
  if (vm.count("accept-unmodelled")) o.accept_unmodelled = vm["accept-unmodelled"].as<std::string>();
  return o;
}

}  // namespace flowkv::cli
