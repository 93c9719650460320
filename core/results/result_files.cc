#include "core/results/result_files.h"

#include <sys/resource.h>
#include <unistd.h>

#include <cinttypes>
#include <cstdio>
#include <cmath>
#include <cstdlib>

#include "core/base/error.h"

namespace flowkv::core {
namespace {

using nlohmann::ordered_json;

ordered_json stat_json(const Stat& s) {
  ordered_json o = ordered_json::object();
  o["mean"] = round9(s.mean);
  o["p50"] = round9(s.p50);
  o["p90"] = round9(s.p90);
  o["p99"] = round9(s.p99);
  return o;
}

// Exact seconds from integer nanoseconds: "12.345678901".
void put_time(std::string& line, OptTime t) {
  if (t.has_value()) {
    const int64_t ns = t.value().ns();
    char buf[40];
    std::snprintf(buf, sizeof buf, "%s%" PRId64 ".%09" PRId64, ns < 0 ? "-" : "",
                  (ns < 0 ? -ns : ns) / 1'000'000'000, (ns < 0 ? -ns : ns) % 1'000'000'000);
    line += buf;
  }
  line += ',';
}

void put_duration(std::string& line, bool present, Duration d) {
  put_time(line, present ? OptTime(Time::zero() + d) : OptTime());
}

void put_int(std::string& line, int64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%" PRId64 ",", v);
  line += buf;
}

}  // namespace

double round9(double v) {
  if (v == 0 || !std::isfinite(v)) return v == v ? v : 0.0;
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return std::strtod(buf, nullptr);
}

ordered_json summary_json(const RunMetrics& m, const Scenario& scenario) {
  ordered_json s = ordered_json::object();
  ordered_json req = ordered_json::object();
  req["total"] = m.total;
  req["completed"] = m.completed;
  req["failed"] = m.failed;
  req["preempted"] = m.preempted;
  req["preemptions"] = m.preemptions;
  req["retries"] = m.retries;
  ordered_json reasons = ordered_json::object();
  for (const auto& [reason, n] : m.failed_by_reason) reasons[reason] = n;
  req["failed_by_reason"] = std::move(reasons);
  s["requests"] = std::move(req);
  ordered_json rec = ordered_json::object();
  rec["node_failures"] = m.node_failures;
  rec["reprefill"] = m.recoveries.reprefill;
  rec["retransfer"] = m.recoveries.retransfer;
  rec["reroute"] = m.recoveries.reroute;
  s["recoveries"] = std::move(rec);
  s["ttft_s"] = stat_json(m.ttft);
  s["tpot_s"] = stat_json(m.tpot);
  s["itl_s"] = stat_json(m.itl);
  s["e2e_s"] = stat_json(m.e2e);
  s["queue_s"] = stat_json(m.queue);
  s["transfer_s"] = stat_json(m.transfer);
  s["transfer_calls_total"] = m.transfer_calls_total;
  s["transfer_bytes_total"] = m.transfer_bytes_total;
  ordered_json tp = ordered_json::object();
  tp["requests_per_s"] = round9(m.requests_per_s);
  tp["output_tokens_per_s"] = round9(m.output_tokens_per_s);
  s["throughput"] = std::move(tp);
  s["goodput_rps"] = round9(m.goodput_rps);
  s["slo_attainment"] = round9(m.slo_attainment);
  s["makespan_s"] = round9(m.makespan_s);
  s["role_flips"] = m.role_flips;
  ordered_json elastic = ordered_json::object();
  elastic["joins"] = m.elastic_joins;
  elastic["leaves"] = m.elastic_leaves;
  s["elastic"] = std::move(elastic);
  ordered_json prefix = ordered_json::object();
  prefix["enabled"] = scenario.prefix_cache_blocks != 0;
  prefix["prompt_tokens"] = m.prefix_prompt_tokens;
  prefix["hit_tokens"] = m.prefix_hit_tokens;
  prefix["evictions"] = m.prefix_evictions;
  prefix["hit_rate"] = round9(m.prefix_prompt_tokens > 0 ? static_cast<double>(m.prefix_hit_tokens) /
                                                             static_cast<double>(m.prefix_prompt_tokens)
                                                       : 0.0);
  s["prefix_cache"] = std::move(prefix);
  ordered_json nodes = ordered_json::array();
  for (const NodeMetrics& n : m.nodes) {
    ordered_json o = ordered_json::object();
    o["name"] = n.name;
    o["gpu"] = n.gpu;
    o["role_initial"] = to_string(n.initial_role);
    o["role_final"] = to_string(n.final_role);
    o["kv_blocks"] = n.kv_blocks;
    o["utilization"] = round9(n.utilization);
    o["kv_usage_mean"] = round9(n.kv_usage_mean);
    o["kv_usage_peak"] = round9(n.kv_usage_peak);
    o["iterations"] = n.iterations;
    o["prefill_tokens"] = n.prefill_tokens;
    o["decode_tokens"] = n.decode_tokens;
    o["preemptions"] = n.preemptions;
    o["transfers_out"] = n.transfers_out;
    o["transfers_in"] = n.transfers_in;
    o["role_flips"] = n.role_flips;
    o["elastic_joins"] = n.elastic_joins;
    o["elastic_leaves"] = n.elastic_leaves;
    o["prefix_hit_tokens"] = n.prefix_hit_tokens;
    o["failures"] = n.failures;
    nodes.push_back(std::move(o));
  }
  s["nodes"] = std::move(nodes);
  // What the figures leave out (config keys accepted although not modelled); absent when nothing.
  if (!scenario.warnings.empty()) s["warnings"] = scenario.warnings;
  s["scenario"] = scenario.resolved;
  return s;
}

const char* const kRequestsCsvHeader =
    "id,status,failure_reason,prompt_tokens,output_tokens,tokens,prefill_node,decode_node,"
    "arrival_s,queued_s,prefill_start_s,prefill_end_s,transfer_start_s,transfer_end_s,"
    "first_token_s,last_token_s,finish_s,ttft_s,tpot_s,e2e_s,transfer_s,transfer_calls,"
    "transfer_bytes,preemptions,retries";

void write_requests_csv(std::ostream& out, std::span<const RequestRecord> records, const Scenario& scenario) {
  out << kRequestsCsvHeader << '\n';
  std::string line;
  line.reserve(512);
  auto node_name = [&](uint16_t id) -> std::string {
    return id < scenario.nodes.size() ? scenario.nodes[id].name : std::string();
  };
  for (const RequestRecord& r : records) {
    if (r.prompt_tokens == 0) continue;
    line.clear();
    put_int(line, static_cast<int64_t>(to_int(r.id)));
    line += r.status == RequestStatus::kCompleted ? "completed," : r.status == RequestStatus::kFailed ? "failed," : "pending,";
    line += to_string(r.failure);
    line += ',';
    put_int(line, r.prompt_tokens);
    put_int(line, r.output_tokens);
    put_int(line, r.tokens);
    line += node_name(r.prefill_node) + ",";
    line += node_name(r.decode_node) + ",";
    put_time(line, r.arrival);
    put_time(line, r.queued);
    put_time(line, r.prefill_start);
    put_time(line, r.prefill_end);
    put_time(line, r.transfer_start);
    put_time(line, r.transfer_end);
    put_time(line, r.first_token);
    put_time(line, r.last_token);
    put_time(line, r.finish);
    const bool done = r.status == RequestStatus::kCompleted;
    put_duration(line, done, done ? r.first_token.value() - r.arrival : Duration());
    const bool has_tpot = done && r.output_tokens > 1;
    put_duration(line, has_tpot,
                 has_tpot ? (r.finish.value() - r.first_token.value()) / (r.output_tokens - 1) : Duration());
    put_duration(line, done, done ? r.finish.value() - r.arrival : Duration());
    put_duration(line, r.transfer_start.has_value(), r.transfer_time);
    put_int(line, r.transfer_calls);
    put_int(line, r.transfer_bytes);
    put_int(line, r.preemptions);
    char buf[16];
    std::snprintf(buf, sizeof buf, "%d\n", static_cast<int>(r.retries));
    line += buf;
    out << line;
  }
}

ordered_json run_json(const RunInfo& info) {
  ordered_json o = ordered_json::object();
  o["backend"] = info.backend;
  o["wall_s"] = round9(info.wall_s);
  o["events"] = info.events;
  o["requests"] = info.requests;
  o["requests_per_wall_s"] = round9(info.wall_s > 0 ? static_cast<double>(info.requests) / info.wall_s : 0);
  o["events_per_wall_s"] = round9(info.wall_s > 0 ? static_cast<double>(info.events) / info.wall_s : 0);
  o["peak_rss_bytes"] = info.peak_rss_bytes;
  return o;
}

int64_t peak_rss_bytes() {
  struct rusage usage {};
  if (getrusage(RUSAGE_SELF, &usage) != 0) return 0;
  return static_cast<int64_t>(usage.ru_maxrss) * 1024;  // kilobytes on Linux
}

OutputDir::OutputDir(std::filesystem::path dir) : dir_(std::move(dir)) {}

OutputDir::~OutputDir() {
  if (committed_) return;
  for (File& f : files_) {
    f.stream.reset();
    std::error_code ec;
    std::filesystem::remove(f.temp, ec);
  }
}

std::ostream& OutputDir::open(const std::string& name) {
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) throw Error(ErrorKind::kRuntime, dir_.string() + ": cannot create the output folder: " + ec.message());
  File f;
  f.name = name;
  f.temp = dir_ / ("." + name + ".tmp-" + std::to_string(::getpid()));
  f.stream = std::make_unique<std::ofstream>(f.temp, std::ios::binary | std::ios::trunc);
  if (!*f.stream) throw Error(ErrorKind::kRuntime, f.temp.string() + ": cannot write");
  files_.push_back(std::move(f));
  return *files_.back().stream;
}

void OutputDir::commit() {
  for (File& f : files_) {
    f.stream->flush();
    if (!*f.stream) throw Error(ErrorKind::kRuntime, f.temp.string() + ": write failed");
    f.stream->close();
  }
  for (File& f : files_) {
    std::error_code ec;
    std::filesystem::rename(f.temp, dir_ / f.name, ec);
    if (ec) throw Error(ErrorKind::kRuntime, (dir_ / f.name).string() + ": cannot rename into place: " + ec.message());
  }
  committed_ = true;
}

}  // namespace flowkv::core
