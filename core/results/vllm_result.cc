#include "core/results/vllm_result.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/results/result_files.h"

namespace flowkv::core {
namespace {

using nlohmann::ordered_json;

// vLLM computes each figure over the list of values, or over [0] when the list is empty.
struct Figures {
  double mean = 0, median = 0, std = 0, p50 = 0, p90 = 0, p99 = 0;
};

Figures figures_of(std::vector<double> v) {
  if (v.empty()) return Figures{};
  std::sort(v.begin(), v.end());
  Figures f;
  double sum = 0;
  for (double x : v) sum += x;
  f.mean = sum / static_cast<double>(v.size());
  double sq = 0;
  for (double x : v) sq += (x - f.mean) * (x - f.mean);
  f.std = std::sqrt(sq / static_cast<double>(v.size()));  // population, as numpy's default
  f.median = percentile_sorted(v, 0.5);
  f.p50 = f.median;
  f.p90 = percentile_sorted(v, 0.9);
  f.p99 = percentile_sorted(v, 0.99);
  return f;
}

double ms(double s) { return round9(s * 1e3); }

void put_metric(ordered_json& o, const std::string& name, const Figures& f, bool std_known = true) {
  o["mean_" + name + "_ms"] = ms(f.mean);
  o["median_" + name + "_ms"] = ms(f.median);
  if (std_known) {
    o["std_" + name + "_ms"] = ms(f.std);
  } else {
    o["std_" + name + "_ms"] = nullptr;
  }
  o["p50_" + name + "_ms"] = ms(f.p50);
  o["p90_" + name + "_ms"] = ms(f.p90);
  o["p99_" + name + "_ms"] = ms(f.p99);
}

}  // namespace

ordered_json vllm_result_json(std::span<const VllmRequest> requests, const VllmRunInfo& info) {
  std::vector<double> ttft, tpot, e2el;
  int64_t completed = 0, input_tokens = 0, output_tokens = 0;
  for (const VllmRequest& r : requests) {
    if (!r.completed) continue;
    ++completed;
    input_tokens += r.prompt_tokens;
    output_tokens += r.output_tokens;
    ttft.push_back(r.ttft_s);
    e2el.push_back(r.e2e_s);
    if (r.output_tokens > 1) tpot.push_back((r.e2e_s - r.ttft_s) / static_cast<double>(r.output_tokens - 1));
  }
  const double d = info.duration_s;
  auto per_s = [&](double v) { return d > 0 ? round9(v / d) : 0.0; };
  auto opt = [](const auto& v) { return v ? ordered_json(*v) : ordered_json(nullptr); };

  ordered_json o = ordered_json::object();
  if (info.date) o["date"] = *info.date;
  o["endpoint_type"] = info.backend;
  o["backend"] = info.backend;
  o["label"] = opt(info.label);
  o["model_id"] = info.model_id;
  o["tokenizer_id"] = info.model_id;
  o["num_prompts"] = static_cast<int64_t>(requests.size());
  if (info.request_rate) {
    o["request_rate"] = round9(*info.request_rate);
  } else {
    o["request_rate"] = "inf";
  }
  o["burstiness"] = info.burstiness ? ordered_json(round9(*info.burstiness)) : ordered_json(nullptr);
  o["max_concurrency"] = nullptr;  // no client-side cap
  o["duration"] = round9(d);
  o["completed"] = completed;
  o["failed"] = info.failed;
  o["total_input_tokens"] = input_tokens;
  o["total_output_tokens"] = output_tokens;
  o["request_throughput"] = per_s(static_cast<double>(completed));
  o["request_goodput"] = info.goodput_rps ? ordered_json(round9(*info.goodput_rps)) : ordered_json(nullptr);
  o["output_throughput"] = per_s(static_cast<double>(output_tokens));
  o["total_token_throughput"] = per_s(static_cast<double>(input_tokens + output_tokens));
  if (!info.detailed.is_null()) {
    for (const auto& item : info.detailed.items()) o[item.key()] = item.value();
  }
  o["max_output_tokens_per_s"] = nullptr;
  o["max_concurrent_requests"] = info.max_concurrent_requests;
  o["rtfx"] = 0.0;
  put_metric(o, "ttft", figures_of(std::move(ttft)));
  put_metric(o, "tpot", figures_of(std::move(tpot)));
  Figures itl;
  if (info.itl.count > 0) {
    itl.mean = info.itl.mean;
    itl.median = info.itl.p50;
    itl.p50 = info.itl.p50;
    itl.p90 = info.itl.p90;
    itl.p99 = info.itl.p99;
    itl.std = info.itl_std_s.value_or(0);
  }
  put_metric(o, "itl", itl, info.itl.count == 0 || info.itl_std_s.has_value());
  put_metric(o, "e2el", figures_of(std::move(e2el)));
  if (!info.extra.empty()) o["flowkv"] = info.extra;
  return o;
}

void configured_rate(const Scenario& scenario, VllmRunInfo& info) {
  info.request_rate.reset();
  info.burstiness = 1.0;
  const nlohmann::json& w = scenario.workload;
  const auto* gen = w.is_object() && w.contains("generator") ? &w["generator"] : nullptr;
  const auto* arrival = gen && gen->is_object() && gen->contains("arrival") ? &(*gen)["arrival"] : nullptr;
  if (arrival == nullptr || !arrival->is_object() || !arrival->contains("rate") || !(*arrival)["rate"].is_number()) {
    return;  // a replayed trace sets its own times: "inf", as vLLM writes for a self-timed trace
  }
  double scale = 1.0;
  if (w.contains("rate_scale") && w["rate_scale"].is_number()) scale = w["rate_scale"].get<double>();
  info.request_rate = (*arrival)["rate"].get<double>() * scale;
  const std::string process = arrival->value("process", std::string("poisson"));
  if (process == "gamma") {
    const double cv = arrival->contains("cv") && (*arrival)["cv"].is_number() ? (*arrival)["cv"].get<double>() : 1.0;
    info.burstiness = 1.0 / (cv * cv);  // vLLM's burstiness is the gamma shape, 1 / cv^2
  } else if (process != "poisson") {
    info.burstiness.reset();  // constant arrivals: no gamma shape describes them
  }
}

ordered_json vllm_result_json(const RunMetrics& metrics, std::span<const RequestRecord> records,
                              const Scenario& scenario, const VllmOptions& options) {
  std::vector<VllmRequest> requests;
  requests.reserve(records.size());
  std::vector<std::pair<Time, int>> events;  // +1 at an arrival, -1 at a finish
  ordered_json input_lens = ordered_json::array(), output_lens = ordered_json::array(),
               ttfts = ordered_json::array(), itls = ordered_json::array(), start_times = ordered_json::array(),
               latencies = ordered_json::array(), errors = ordered_json::array(), token_ids = ordered_json::array();
  const bool detailed = options.detail != nullptr;
  for (const RequestRecord& r : records) {
    if (r.prompt_tokens == 0) continue;  // an id that never arrived (as in requests.csv)
    VllmRequest v;
    v.completed = r.status == RequestStatus::kCompleted;
    v.prompt_tokens = r.prompt_tokens;
    v.output_tokens = r.output_tokens;
    if (v.completed) {
      v.ttft_s = (r.first_token.value() - r.arrival).seconds();
      v.e2e_s = (r.finish.value() - r.arrival).seconds();
    } else {
      v.ttft_s = v.e2e_s = std::nan("");
    }
    requests.push_back(v);
    events.emplace_back(r.arrival, 1);
    events.emplace_back(r.finish.value_or(r.arrival), -1);
    if (detailed) {
      const size_t id = static_cast<size_t>(to_int(r.id));
      input_lens.push_back(r.prompt_tokens);
      output_lens.push_back(v.completed ? r.tokens : 0);
      ttfts.push_back(v.completed ? ordered_json(round9(v.ttft_s)) : ordered_json(0.0));
      ordered_json gaps = ordered_json::array();
      if (id < options.detail->itls.size()) {
        for (const double g : options.detail->itls[id]) gaps.push_back(round9(g));
      }
      itls.push_back(std::move(gaps));
      start_times.push_back(round9(r.arrival.seconds()));
      latencies.push_back(v.completed ? ordered_json(round9(v.e2e_s)) : ordered_json(0.0));
      errors.push_back(v.completed ? std::string() : std::string(to_string(r.failure)));
      if (id < options.detail->token_ids.size()) token_ids.push_back(options.detail->token_ids[id]);
    }
  }
  VllmRunInfo info;
  info.date = options.date;
  info.backend = options.backend;
  info.label = scenario.name;
  info.model_id = scenario.model.name;
  configured_rate(scenario, info);
  info.duration_s = metrics.makespan_s;
  info.failed = metrics.failed;
  info.goodput_rps = metrics.goodput_rps;
  info.itl = metrics.itl;
  info.itl_std_s = metrics.itl_std_s;
  // Requests in flight at once (arrived, not finished); finishes before arrivals at equal times.
  std::sort(events.begin(), events.end());
  int64_t in_flight = 0;
  for (const auto& [t, delta] : events) {
    in_flight += delta;
    info.max_concurrent_requests = std::max(info.max_concurrent_requests, in_flight);
  }
  if (detailed) {
    info.detailed = ordered_json::object();
    info.detailed["input_lens"] = std::move(input_lens);
    info.detailed["output_lens"] = std::move(output_lens);
    info.detailed["ttfts"] = std::move(ttfts);
    info.detailed["itls"] = std::move(itls);
    info.detailed["start_times"] = std::move(start_times);
    info.detailed["latencies"] = std::move(latencies);
    info.detailed["errors"] = std::move(errors);
    if (!options.detail->token_ids.empty()) info.detailed["generated_token_ids"] = std::move(token_ids);
  }
  info.extra["scenario"] = scenario.name;
  info.extra["policy"] = scenario.global.name;
  info.extra["slo_ttft_s"] = scenario.slo.ttft_s;
  info.extra["slo_tpot_s"] = scenario.slo.tpot_s;
  info.extra["slo_attainment"] = round9(metrics.slo_attainment);
  info.extra["note"] =
      "max_output_tokens_per_s is null: FlowKV keeps token times per request only with --detailed; "
      "max_concurrent_requests counts requests arrived and not finished";
  return vllm_result_json(requests, info);
}

void write_vllm_result(const std::filesystem::path& file, const ordered_json& result) {
  const std::filesystem::path dir = file.has_parent_path() ? file.parent_path() : std::filesystem::path(".");
  OutputDir out(dir);
  out.open(file.filename().string()) << result.dump(2) << '\n';
  out.commit();
}

}  // namespace flowkv::core
