#include "runtime/live/live_run.h"

#include <cstdio>
#include <ctime>

#include "core/base/error.h"
#include "runtime/live/local_node_host.h"

namespace flowkv::runtime {

void check_live_model(const core::ModelSpec& model) {
  const std::string unsupported = model.first_unsupported_feature();
  if (!unsupported.empty()) {
    core::throw_input_error("model " + model.name + ": the live executors run dense Llama-architecture models; " +
                            unsupported + " is not implemented by them (flowkv simulate models it)");
  }
  if (model.dtype_bytes != 2 && model.dtype_bytes != 4) {
    core::throw_input_error("model " + model.name + ": the live executors keep KV in bf16/fp16 or fp32 only");
  }
}

LiveRunResult run_live(const core::Scenario& scenario, const traces::Trace& trace, Device& device,
                       const LiveRunOptions& options) {
  return run_live(
      scenario, trace,
      [&](NodeHost::Listener& listener) {
        LocalNodeHostOptions o;
        o.work_timeout = options.backend.work_timeout;
        return std::make_unique<LocalNodeHost>(scenario, device, listener, std::move(o));
      },
      options);
}

LiveRunResult run_live(const core::Scenario& scenario, const traces::Trace& trace, const NodeHostFactory& make_host,
                       const LiveRunOptions& options) {
  check_live_model(scenario.model);
  LiveBackend backend(scenario, trace.requests, make_host, options.backend);
  LiveRunResult result;
  char date[32];
  const std::time_t now = std::time(nullptr);
  std::tm local{};
  localtime_r(&now, &local);
  std::strftime(date, sizeof date, "%Y%m%d-%H%M%S", &local);
  result.run = core::run_controller(scenario, backend, static_cast<int64_t>(trace.requests.size()), options.run, "live");
  result.run.summary["workload"] = traces::workload_json(trace);
  result.run.info.events = backend.events();
  result.run.date = date;
  result.stats = backend.stats();
  result.device = backend.device_name();
  result.time_scale = options.backend.time_scale;
  result.outputs.resize(trace.requests.size());
  for (const core::Request& r : trace.requests) {
    const std::vector<int32_t>& t = backend.tokens(r.id);
    result.outputs[core::to_int(r.id)].assign(t.begin() + r.prompt_tokens, t.end());
  }
  if (result.run.detail) result.run.detail->token_ids = result.outputs;
  nlohmann::ordered_json live = nlohmann::ordered_json::object();
  live["device"] = result.device;
  live["time_scale"] = result.time_scale;
  live["arrivals_late"] = result.stats.arrivals_late;
  live["max_arrival_lag_s"] = core::round9(result.stats.max_arrival_lag.seconds());
  live["timed_out"] = result.stats.timed_out;
  live["controller_busy_s"] = core::round9(result.stats.controller_busy.seconds());
  live["submit_s"] = core::round9(result.stats.submit_time.seconds());
  live["dispatch_overhead_s"] = core::round9(result.stats.dispatch_overhead.seconds());
  live["dispatch_overhead_mean_us"] =
      result.stats.dispatched > 0
          ? core::round9(result.stats.dispatch_overhead.seconds() * 1e6 / static_cast<double>(result.stats.dispatched))
          : 0.0;
  live["lost_nodes"] = result.stats.lost;
  live["errors"] = result.stats.errors;
  result.run.summary["live"] = std::move(live);
  return result;
}

void write_live_files(const LiveRunResult& result, const core::Scenario& scenario, core::OutputDir& out,
                      bool save_tokens) {
  core::write_run_files(result.run, scenario, out);
  std::ostream& it = out.open("iterations.csv");
  it << "node,submitted_s,started_s,finished_s,ok,prefill_items,prefill_tokens,prefill_context,attention_pairs,"
        "decode_items,decode_context\n";
  char line[320];
  for (const IterationSample& s : result.stats.iterations) {
    std::snprintf(line, sizeof line, "%s,%.9f,%.9f,%.9f,%d,%lld,%lld,%lld,%lld,%lld,%lld\n",
                  scenario.nodes[s.node].name.c_str(), s.submitted.seconds(), s.started.seconds(), s.finished.seconds(),
                  s.ok ? 1 : 0, static_cast<long long>(s.prefill_items), static_cast<long long>(s.prefill_tokens),
                  static_cast<long long>(s.prefill_context), static_cast<long long>(s.attention_pairs),
                  static_cast<long long>(s.decode_items), static_cast<long long>(s.decode_context));
    it << line;
  }
  if (save_tokens) {
    std::ostream& tk = out.open("tokens.jsonl");
    for (size_t i = 0; i < result.outputs.size(); ++i) {
      tk << "{\"id\": " << i << ", \"tokens\": [";
      for (size_t k = 0; k < result.outputs[i].size(); ++k) tk << (k ? ", " : "") << result.outputs[i][k];
      tk << "]}\n";
    }
  }
}

}  // namespace flowkv::runtime
