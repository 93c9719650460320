#include "tools/report/results.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <limits>
#include <map>
#include <set>
#include <sstream>

#include "core/base/error.h"

namespace flowkv::report {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

[[noreturn]] void fail(const std::string& where, const std::string& path, const std::string& what) {
  core::throw_input_error(where + ": " + (path.empty() ? "" : path + ": ") + what);
}

std::string got(const json* v) {
  if (v == nullptr) return "missing";
  std::string dump = v->dump();
  if (dump.size() > 40) dump = dump.substr(0, 37) + "...";
  return "got " + std::string(v->type_name()) + " " + dump;
}

const json* member(const json& o, const std::string& key) {
  if (!o.is_object()) return nullptr;
  auto it = o.find(key);
  return it == o.end() ? nullptr : &*it;
}

std::string join(const std::string& path, const std::string& key) { return path.empty() ? key : path + "." + key; }

double number(const json& o, const std::string& key, const std::string& where, const std::string& path) {
  const json* v = member(o, key);
  if (v == nullptr || !v->is_number()) fail(where, join(path, key), "expected a number, " + got(v));
  const double d = v->get<double>();
  if (!std::isfinite(d)) fail(where, join(path, key), "expected a finite number");
  return d;
}

int64_t integer(const json& o, const std::string& key, const std::string& where, const std::string& path) {
  const json* v = member(o, key);
  if (v == nullptr || !v->is_number_integer()) fail(where, join(path, key), "expected an integer, " + got(v));
  return v->get<int64_t>();
}

std::string string(const json& o, const std::string& key, const std::string& where, const std::string& path) {
  const json* v = member(o, key);
  if (v == nullptr || !v->is_string()) fail(where, join(path, key), "expected a string, " + got(v));
  return v->get<std::string>();
}

const json& object(const json& o, const std::string& key, const std::string& where, const std::string& path) {
  const json* v = member(o, key);
  if (v == nullptr || !v->is_object()) fail(where, join(path, key), "expected an object, " + got(v));
  return *v;
}

// An optional string at a dotted path of the resolved scenario; "" when absent or not a string.
std::string opt_string(const json& root, std::initializer_list<const char*> keys) {
  const json* v = &root;
  for (const char* k : keys) {
    v = member(*v, k);
    if (v == nullptr) return "";
  }
  if (v->is_string()) return v->get<std::string>();
  if (v->is_object()) {
    const json* name = member(*v, "name");  // a policy given as {"name": ...}
    if (name != nullptr && name->is_string()) return name->get<std::string>();
  }
  return "";
}

double opt_number(const json& root, std::initializer_list<const char*> keys) {
  const json* v = &root;
  for (const char* k : keys) {
    v = member(*v, k);
    if (v == nullptr) return 0;
  }
  return v->is_number() ? v->get<double>() : 0;
}

StatSummary stat(const json& o, const std::string& key, const std::string& where) {
  const json& s = object(o, key, where, "");
  return StatSummary{number(s, "mean", where, key), number(s, "p50", where, key), number(s, "p90", where, key),
                     number(s, "p99", where, key)};
}

json read_json(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) core::throw_input_error(file.string() + ": cannot read");
  try {
    return json::parse(in);
  } catch (const json::parse_error& e) {
    core::throw_input_error(file.string() + ": malformed JSON: " + e.what());
  }
}

bool parse_double(std::string_view s, double& out) {
  if (s.empty()) {
    out = kNaN;
    return true;
  }
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && ptr == s.data() + s.size() && std::isfinite(out);
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::optional<RequestTable> requests_if_present(const fs::path& dir) {
  const fs::path file = dir / "requests.csv";
  if (!fs::exists(file)) return std::nullopt;
  return read_requests_csv(file);
}

std::optional<Timeline> timeline_if_present(const fs::path& dir) {
  const fs::path file = dir / "timeline.json";
  if (!fs::exists(file)) return std::nullopt;
  return read_timeline_json(file);
}

Run load_run(const fs::path& dir, const std::string& origin) {
  Run r;
  r.dir = dir;
  r.origin = origin;
  r.source = dir.filename().string();
  r.summary = read_summary_json(dir / "summary.json");
  if (read_json(dir / "summary.json").contains("live")) r.backend = "live";
  r.requests = requests_if_present(dir);
  r.timeline = timeline_if_present(dir);
  if (fs::exists(dir / "fidelity.json")) r.fidelity = read_fidelity(dir);
  return r;
}

// The sub-folder of a compare folder that holds policy `name`'s files: DIR/name, else the one
// whose summary.json names that policy.
std::optional<fs::path> find_policy_dir(const fs::path& dir, const std::string& name) {
  if (!name.empty() && name.find('/') == std::string::npos && fs::exists(dir / name / "summary.json")) {
    return dir / name;
  }
  std::vector<fs::path> subdirs;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.is_directory() && fs::exists(e.path() / "summary.json")) subdirs.push_back(e.path());
  }
  std::sort(subdirs.begin(), subdirs.end());
  for (const fs::path& d : subdirs) {
    const json j = read_json(d / "summary.json");
    if (opt_string(j, {"scenario", "policies", "global"}) == name) return d;
  }
  return std::nullopt;
}

void load_compare(const fs::path& dir, ReportInput& in) {
  const fs::path file = dir / "compare.json";
  const std::string where = file.string();
  const json j = read_json(file);
  const json* policies = member(j, "policies");
  if (policies == nullptr || !policies->is_array() || policies->empty()) {
    fail(where, "policies", "expected a non-empty array of {\"name\", \"summary\"}, " + got(policies));
  }
  for (size_t i = 0; i < policies->size(); ++i) {
    const json& p = (*policies)[i];
    const std::string path = "policies[" + std::to_string(i) + "]";
    Run r;
    const std::string name = string(p, "name", where, path);
    const json& summary = object(p, "summary", where, path);
    r.summary = parse_summary(summary, where + ": " + path + ".summary");
    if (r.summary.policy.empty()) r.summary.policy = name;
    r.origin = "compare " + dir.string();
    r.source = dir.filename().string();
    r.label = name;
    if (const std::optional<fs::path> sub = find_policy_dir(dir, name)) {
      r.dir = *sub;
      r.requests = requests_if_present(*sub);
      r.timeline = timeline_if_present(*sub);
    } else {
      r.dir = dir;  // load_results() notes that its requests.csv is missing
    }
    in.runs.push_back(std::move(r));
  }
}

std::string rate_text(double rps) {
  std::ostringstream s;
  s.precision(3);
  s << rps;
  return s.str();
}

void load_sweep(const fs::path& dir, ReportInput& in) {
  const fs::path file = dir / "sweep.json";
  const std::string where = file.string();
  const json j = read_json(file);
  const json* cells = member(j, "cells");
  if (cells == nullptr || !cells->is_array() || cells->empty()) {
    fail(where, "cells", "expected a non-empty array of {\"policy\", \"rate_scale\", \"rate_rps\", \"dir\"}, " + got(cells));
  }
  Sweep sweep;
  sweep.dir = dir;
  for (size_t i = 0; i < cells->size(); ++i) {
    const json& c = (*cells)[i];
    const std::string path = "cells[" + std::to_string(i) + "]";
    SweepCell cell;
    cell.policy = string(c, "policy", where, path);
    cell.rate_scale = number(c, "rate_scale", where, path);
    cell.rate_rps = number(c, "rate_rps", where, path);
    const fs::path sub = string(c, "dir", where, path);
    cell.dir = sub.is_absolute() ? sub : dir / sub;
    if (!fs::exists(cell.dir / "summary.json")) {
      fail(where, path + ".dir", "no summary.json in " + cell.dir.string());
    }
    cell.summary = read_summary_json(cell.dir / "summary.json");
    sweep.cells.push_back(std::move(cell));
  }
  // One cell per policy at the sweep's middle rate feeds the latency plots.
  std::vector<double> scales;
  for (const SweepCell& c : sweep.cells) scales.push_back(c.rate_scale);
  std::sort(scales.begin(), scales.end());
  scales.erase(std::unique(scales.begin(), scales.end()), scales.end());
  const double mid = scales[(scales.size() - 1) / 2];
  std::set<std::string> seen;
  double mid_rps = 0;
  for (const SweepCell& c : sweep.cells) {
    if (c.rate_scale != mid || !seen.insert(c.policy).second) continue;
    Run r;
    r.dir = c.dir;
    r.origin = "sweep " + dir.string() + " at " + rate_text(c.rate_rps) + " req/s";
    r.source = dir.filename().string();
    r.summary = c.summary;
    r.label = c.policy + " @ " + rate_text(c.rate_rps) + " req/s";
    r.requests = requests_if_present(c.dir);
    r.timeline = timeline_if_present(c.dir);
    mid_rps = c.rate_rps;
    in.runs.push_back(std::move(r));
  }
  in.notes.push_back(dir.string() + ": a sweep of " + std::to_string(sweep.cells.size()) + " cells; the per-run plots " +
                     "show its cells at the middle rate (rate scale " + rate_text(mid) + ", " + rate_text(mid_rps) +
                     " req/s)");
  in.sweeps.push_back(std::move(sweep));
}

void load_plan(const fs::path& dir, ReportInput& in) {
  Plan plan = read_plan_json(dir / "plan.json");
  plan.dir = dir;
  if (plan.best && fs::exists(dir / "best" / "summary.json")) {
    Run r = load_run(dir / "best", "plan " + dir.string() + ": the chosen shape");
    r.source = dir.filename().string();
    r.label = "plan: " + plan.candidates[static_cast<size_t>(*plan.best)].shape;
    in.runs.push_back(std::move(r));
  }
  in.plans.push_back(std::move(plan));
}

// Legend names: the policy where it is unique among the runs, else "policy (live)" / "policy (sim)",
// else "policy (folder)", else the path.
void assign_labels(std::vector<Run>& runs) {
  for (Run& r : runs) {
    if (r.label.empty()) r.label = !r.summary.policy.empty() ? r.summary.policy : r.dir.filename().string();
  }
  auto count = [&](const std::string& label) {
    return std::count_if(runs.begin(), runs.end(), [&](const Run& r) { return r.label == label; });
  };
  auto disambiguate = [&](auto suffix) {
    std::vector<std::string> next;
    for (const Run& r : runs) next.push_back(count(r.label) > 1 ? r.label + " (" + suffix(r) + ")" : r.label);
    for (size_t i = 0; i < runs.size(); ++i) runs[i].label = next[i];
  };
  {
    // A live run beside its simulation: "(live)" / "(sim)" where that is what tells them apart.
    std::vector<std::string> next;
    for (const Run& r : runs) {
      const bool mixed = std::any_of(runs.begin(), runs.end(),
                                     [&](const Run& o) { return o.label == r.label && o.backend != r.backend; });
      next.push_back(mixed ? r.label + " (" + r.backend + ")" : r.label);
    }
    for (size_t i = 0; i < runs.size(); ++i) runs[i].label = next[i];
  }
  disambiguate([](const Run& r) { return r.source; });
  disambiguate([](const Run& r) { return r.dir.filename().string(); });
  for (size_t i = 0; i < runs.size(); ++i) {
    if (count(runs[i].label) > 1) runs[i].label = runs[i].dir.string();
  }
  for (size_t i = 0; i < runs.size(); ++i) {
    if (count(runs[i].label) > 1) runs[i].label += " #" + std::to_string(i + 1);
  }
}

}  // namespace

RunSummary parse_summary(const json& s, const std::string& where) {
  if (!s.is_object()) fail(where, "", "expected a JSON object (a summary.json)");
  RunSummary r;
  const json& req = object(s, "requests", where, "");
  r.total = integer(req, "total", where, "requests");
  r.completed = integer(req, "completed", where, "requests");
  r.failed = integer(req, "failed", where, "requests");
  r.preempted = integer(req, "preempted", where, "requests");
  r.preemptions = integer(req, "preemptions", where, "requests");
  r.retries = integer(req, "retries", where, "requests");
  r.ttft = stat(s, "ttft_s", where);
  r.tpot = stat(s, "tpot_s", where);
  r.itl = stat(s, "itl_s", where);
  r.e2e = stat(s, "e2e_s", where);
  r.queue = stat(s, "queue_s", where);
  r.transfer = stat(s, "transfer_s", where);
  r.transfer_calls_total = integer(s, "transfer_calls_total", where, "");
  r.transfer_bytes_total = integer(s, "transfer_bytes_total", where, "");
  const json& tp = object(s, "throughput", where, "");
  r.requests_per_s = number(tp, "requests_per_s", where, "throughput");
  r.output_tokens_per_s = number(tp, "output_tokens_per_s", where, "throughput");
  r.goodput_rps = number(s, "goodput_rps", where, "");
  r.slo_attainment = number(s, "slo_attainment", where, "");
  r.makespan_s = number(s, "makespan_s", where, "");
  r.role_flips = integer(s, "role_flips", where, "");
  const json* nodes = member(s, "nodes");
  if (nodes == nullptr || !nodes->is_array()) fail(where, "nodes", "expected an array, " + got(nodes));
  for (size_t i = 0; i < nodes->size(); ++i) {
    const json& n = (*nodes)[i];
    const std::string path = "nodes[" + std::to_string(i) + "]";
    NodeSummary x;
    x.name = string(n, "name", where, path);
    x.gpu = string(n, "gpu", where, path);
    x.role_initial = string(n, "role_initial", where, path);
    x.role_final = string(n, "role_final", where, path);
    x.kv_blocks = integer(n, "kv_blocks", where, path);
    x.utilization = number(n, "utilization", where, path);
    x.kv_usage_mean = number(n, "kv_usage_mean", where, path);
    x.kv_usage_peak = number(n, "kv_usage_peak", where, path);
    x.iterations = integer(n, "iterations", where, path);
    x.preemptions = integer(n, "preemptions", where, path);
    x.transfers_out = integer(n, "transfers_out", where, path);
    x.transfers_in = integer(n, "transfers_in", where, path);
    x.role_flips = integer(n, "role_flips", where, path);
    r.nodes.push_back(std::move(x));
  }
  if (const json* sc = member(s, "scenario")) {
    r.scenario_name = opt_string(*sc, {"name"});
    r.model = opt_string(*sc, {"model"});
    r.policy = opt_string(*sc, {"policies", "global"});
    r.role_policy = opt_string(*sc, {"policies", "role"});
    r.layout = opt_string(*sc, {"kv", "layout"});
    r.allocator = opt_string(*sc, {"kv", "allocator"});
    r.slo_ttft_s = opt_number(*sc, {"slo", "ttft_s"});
    r.slo_tpot_s = opt_number(*sc, {"slo", "tpot_s"});
    r.rate_scale = opt_number(*sc, {"workload", "rate_scale"});
  }
  return r;
}

RunSummary read_summary_json(const fs::path& file) { return parse_summary(read_json(file), file.string()); }

Plan read_plan_json(const fs::path& file) {
  const std::string where = file.string();
  const json j = read_json(file);
  Plan p;
  const json& target = object(j, "target", where, "");
  p.scenario = string(target, "scenario", where, "target");
  const json& slo = object(target, "slo", where, "target");
  p.slo_ttft_s = number(slo, "ttft_s", where, "target.slo");
  p.slo_tpot_s = number(slo, "tpot_s", where, "target.slo");
  p.target = number(target, "attainment", where, "target");
  p.rate_rps = number(target, "rate_rps", where, "target");
  p.requests = integer(target, "requests", where, "target");
  const json& search = object(j, "search", where, "");
  p.mode = string(search, "mode", where, "search");
  p.grid = integer(search, "grid", where, "search");
  p.simulated = integer(search, "simulated", where, "search");
  p.stopped_early = integer(search, "stopped_early", where, "search");
  p.unfit = integer(search, "unfit", where, "search");
  p.pruned_dominated = integer(search, "pruned_dominated", where, "search");
  p.pruned_costlier = integer(search, "pruned_costlier", where, "search");
  const json* cands = member(j, "candidates");
  if (cands == nullptr || !cands->is_array()) fail(where, "candidates", "expected an array, " + got(cands));
  auto optional_number = [&](const json& o, const char* key, const std::string& path) -> std::optional<double> {
    const json* v = member(o, key);
    if (v != nullptr && v->is_null()) return std::nullopt;
    return number(o, key, where, path);
  };
  for (size_t i = 0; i < cands->size(); ++i) {
    const json& c = (*cands)[i];
    const std::string path = "candidates[" + std::to_string(i) + "]";
    PlanCandidate x;
    x.id = integer(c, "id", where, path);
    if (x.id != static_cast<int64_t>(i)) fail(where, path + ".id", "expected " + std::to_string(i) + " (ids in order)");
    const json& summary = object(c, "scenario_summary", where, path);
    x.shape = string(summary, "shape", where, path + ".scenario_summary");
    x.policy = string(summary, "policy", where, path + ".scenario_summary");
    x.cost_per_hour = number(c, "cost_per_hour", where, path);
    x.status = string(c, "status", where, path);
    x.reason = string(c, "reason", where, path);
    x.rejected_because = string(c, "rejected_because", where, path);
    x.attainment = optional_number(c, "attainment", path);
    x.goodput_rps = optional_number(c, "goodput_rps", path);
    p.candidates.push_back(std::move(x));
  }
  auto id_in_range = [&](const json& v, const std::string& path) {
    if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() >= static_cast<int64_t>(p.candidates.size())) {
      fail(where, path, "expected a candidate id, " + got(&v));
    }
    return v.get<int64_t>();
  };
  const json* best = member(j, "best");
  if (best != nullptr && !best->is_null()) {
    const json* id = member(*best, "id");
    if (id == nullptr) fail(where, "best.id", "expected a candidate id, missing");
    p.best = id_in_range(*id, "best.id");
  }
  const json* frontier = member(j, "frontier");
  if (frontier == nullptr || !frontier->is_array()) fail(where, "frontier", "expected an array, " + got(frontier));
  for (size_t i = 0; i < frontier->size(); ++i) {
    const json* id = member((*frontier)[i], "id");
    if (id == nullptr) fail(where, "frontier[" + std::to_string(i) + "].id", "expected a candidate id, missing");
    p.frontier.push_back(id_in_range(*id, "frontier[" + std::to_string(i) + "].id"));
  }
  return p;
}

RequestTable read_requests_csv(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) core::throw_input_error(file.string() + ": cannot read");
  const std::string where = file.string();
  std::string line;
  if (!std::getline(in, line)) core::throw_input_error(where + ": empty file: expected a header line");
  if (!line.empty() && line.back() == '\r') line.pop_back();
  std::map<std::string, size_t> column;
  size_t ncols = 0;
  for (size_t start = 0;; ++ncols) {
    const size_t comma = line.find(',', start);
    column[line.substr(start, comma - start)] = ncols;
    if (comma == std::string::npos) {
      ++ncols;
      break;
    }
    start = comma + 1;
  }
  auto need = [&](const char* name) {
    auto it = column.find(name);
    if (it == column.end()) {
      core::throw_input_error(where + ":1: missing column '" + std::string(name) +
                              "' (is this a requests.csv written by flowkv?)");
    }
    return it->second;
  };
  const size_t c_status = need("status"), c_prompt = need("prompt_tokens"), c_output = need("output_tokens"),
               c_arrival = need("arrival_s"), c_ttft = need("ttft_s"), c_tpot = need("tpot_s"), c_e2e = need("e2e_s"),
               c_transfer = need("transfer_s"), c_prefill_start = need("prefill_start_s");
  RequestTable t;
  std::vector<std::string_view> fields(ncols);
  for (int64_t lineno = 2; std::getline(in, line); ++lineno) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    size_t n = 0, start = 0;
    for (;;) {
      const size_t comma = line.find(',', start);
      if (n < ncols) fields[n] = std::string_view(line).substr(start, comma - start);
      ++n;
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
    const std::string at = where + ":" + std::to_string(lineno) + ": ";
    if (n != ncols) {
      core::throw_input_error(at + "expected " + std::to_string(ncols) + " fields, found " + std::to_string(n));
    }
    auto num = [&](size_t c, const char* name) {
      double v;
      if (!parse_double(fields[c], v)) {
        core::throw_input_error(at + "column '" + name + "': expected a number, got '" + std::string(fields[c]) + "'");
      }
      return v;
    };
    auto count = [&](size_t c, const char* name) {
      const double v = num(c, name);
      if (!(v >= 0) || v != std::floor(v) || v > 2e9) {
        core::throw_input_error(at + "column '" + name + "': expected a token count, got '" + std::string(fields[c]) + "'");
      }
      return static_cast<int32_t>(v);
    };
    const std::string_view status = fields[c_status];
    if (status != "completed" && status != "failed" && status != "pending") {
      core::throw_input_error(at + "column 'status': expected completed, failed or pending, got '" +
                              std::string(status) + "'");
    }
    t.completed.push_back(status == "completed" ? 1 : 0);
    t.prompt_tokens.push_back(count(c_prompt, "prompt_tokens"));
    t.output_tokens.push_back(count(c_output, "output_tokens"));
    t.arrival_s.push_back(num(c_arrival, "arrival_s"));
    t.ttft_s.push_back(num(c_ttft, "ttft_s"));
    t.tpot_s.push_back(num(c_tpot, "tpot_s"));
    t.e2e_s.push_back(num(c_e2e, "e2e_s"));
    t.transfer_s.push_back(num(c_transfer, "transfer_s"));
    t.queue_s.push_back(num(c_prefill_start, "prefill_start_s") - t.arrival_s.back());  // NaN when never started
  }
  return t;
}

Timeline read_timeline_json(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) core::throw_input_error(file.string() + ": cannot read");
  // Keep only the events the report draws (counters, metadata, instants): a long replay's
  // timeline can hold millions of slices.
  const json::parser_callback_t keep = [](int /*depth*/, json::parse_event_t event, json& parsed) {
    if (event != json::parse_event_t::object_end) return true;
    const json* ph = member(parsed, "ph");
    if (ph == nullptr || !ph->is_string()) return true;
    const std::string& p = ph->get_ref<const std::string&>();
    return p == "C" || p == "M" || p == "i" || p == "I";
  };
  json j;
  try {
    j = json::parse(in, keep);
  } catch (const json::parse_error& e) {
    core::throw_input_error(file.string() + ": malformed JSON: " + e.what());
  }
  const json* events = j.is_array() ? &j : member(j, "traceEvents");
  if (events == nullptr || !events->is_array()) {
    core::throw_input_error(file.string() + ": expected a Chrome trace: an array of events or {\"traceEvents\": [...]}");
  }
  std::map<int64_t, std::string> process_name;
  for (const json& e : *events) {
    if (member(e, "ph") && e["ph"] == "M" && member(e, "name") && e["name"] == "process_name" && member(e, "pid") &&
        e["pid"].is_number_integer() && member(e, "args") && member(e["args"], "name") && e["args"]["name"].is_string()) {
      // "P0 (H100-SXM, prefill)" names node P0.
      const std::string full = e["args"]["name"].get<std::string>();
      process_name[e["pid"].get<int64_t>()] = full.substr(0, full.find(" ("));
    }
  }
  auto node_of = [&](const json& e) {
    const json* pid = member(e, "pid");
    const int64_t p = pid != nullptr && pid->is_number_integer() ? pid->get<int64_t>() : -1;
    auto it = process_name.find(p);
    return it != process_name.end() ? it->second : "pid " + std::to_string(p);
  };
  std::map<std::pair<std::string, std::string>, UsageTrack> tracks;  // (node, counter) in name order
  Timeline t;
  for (const json& e : *events) {
    const json* ph = member(e, "ph");
    const json* name = member(e, "name");
    const json* ts = member(e, "ts");
    if (ph == nullptr || name == nullptr || !name->is_string() || ts == nullptr || !ts->is_number()) continue;
    const std::string n = name->get<std::string>();
    const std::string ln = lower(n);
    const double t_s = ts->get<double>() * 1e-6;  // Chrome trace timestamps are microseconds
    if (*ph == "C") {
      const json* args = member(e, "args");
      if (args == nullptr || !args->is_object()) continue;
      for (const auto& [key, v] : args->items()) {
        if (!v.is_number()) continue;
        const std::string counter = args->size() == 1 ? n : n + "." + key;
        UsageTrack& track = tracks[{node_of(e), counter}];
        track.node = node_of(e);
        track.counter = counter;
        track.t_s.push_back(t_s);
        // A counter whose argument is "%" (core/results/timeline.h: "KV usage" {"%": 37.5}) is a percentage.
        track.value.push_back(key == "%" ? v.get<double>() / 100 : v.get<double>());
      }
    } else if ((*ph == "i" || *ph == "I") &&
               (ln.find("role") != std::string::npos || ln.find("flip") != std::string::npos)) {
      t.flips.push_back({node_of(e), t_s, n});
    }
  }
  for (auto& [key, track] : tracks) {
    const std::string lc = lower(track.counter);
    if (lc.find("kv") != std::string::npos) {
      t.kv.push_back(std::move(track));
    } else if (lc.find("util") != std::string::npos || lc.find("busy") != std::string::npos) {
      t.utilization.push_back(std::move(track));
    }
  }
  return t;
}

ReportInput load_results(const std::vector<fs::path>& dirs) {
  if (dirs.empty()) core::throw_input_error("no result folder given");
  ReportInput in;
  for (const fs::path& dir : dirs) {
    if (!fs::is_directory(dir)) core::throw_input_error(dir.string() + ": not a folder");
    if (fs::exists(dir / "plan.json")) {
      load_plan(dir, in);
    } else if (fs::exists(dir / "sweep.json")) {
      load_sweep(dir, in);
    } else if (fs::exists(dir / "compare.json")) {
      load_compare(dir, in);
    } else if (fs::exists(dir / "summary.json")) {
      in.runs.push_back(load_run(dir, "run " + dir.string()));
    } else {
      core::throw_input_error(dir.string() +
                              ": no result files: expected summary.json (flowkv simulate), compare.json "
                              "(flowkv compare), sweep.json (flowkv sweep) or plan.json (flowkv plan)");
    }
  }
  assign_labels(in.runs);
  for (const Run& r : in.runs) {
    if (!r.requests) {
      in.notes.push_back(r.label + ": no requests.csv in " + r.dir.string() +
                         ": its latency CDFs and transfer scatter are missing");
    }
  }
  return in;
}

}  // namespace flowkv::report
