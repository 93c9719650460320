#include "core/spec/scenario.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

#include "core/base/error.h"
#include "core/base/json_check.h"
#include "core/base/repository.h"
#include "core/base/request.h"


namespace flowkv::core {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;
namespace fs = std::filesystem;

constexpr int64_t kGiB = int64_t{1} << 30;

NodeRole parse_role(const json& v, const std::string& path) {
  const std::string s = jcheck::string(v, path);
  if (s == "prefill") return NodeRole::kPrefill;
  if (s == "decode") return NodeRole::kDecode;
  if (s == "colocated") return NodeRole::kColocated;
  jcheck::fail(path, "one of \"prefill\", \"decode\", \"colocated\"", v);
}

char role_letter(NodeRole role) {
  switch (role) {
    case NodeRole::kPrefill: return 'P';
    case NodeRole::kDecode: return 'D';
    case NodeRole::kColocated: return 'C';
  }
  return '?';
}

LayoutKind parse_layout(const json& v, const std::string& path) {
  const std::string s = jcheck::string(v, path);
  if (s == "paged") return LayoutKind::kPagedPerLayer;
  if (s == "contiguous") return LayoutKind::kBlockContiguous;
  jcheck::fail(path, "one of \"paged\" (vLLM, per layer), \"contiguous\" (FlowKV, per block)", v);
}

template <typename Fn>
auto rethrow_with_path(const std::string& path, Fn&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const Error& e) {
    if (e.kind() != ErrorKind::kInvalidInput) throw;
    throw_input_error(path + ": " + e.what());
  }
}

LinkSpec parse_link(const json* v, const std::string& path, ordered_json& out) {
  LinkSpec link;
  if (!v) {
    link = find_link("NVLink4");
  } else if (v->is_string()) {
    link = rethrow_with_path(path, [&] { return find_link(v->get<std::string>()); });
  } else if (v->is_object()) {
    jcheck::check_object(*v, path, {"name", "bytes_per_s", "per_call_latency_us"});
    const json* bw = jcheck::member(*v, "bytes_per_s");
    const json* lat = jcheck::member(*v, "per_call_latency_us");
    if (!bw) throw_input_error(path + ".bytes_per_s: missing (link bandwidth, one direction)");
    if (!lat) throw_input_error(path + ".per_call_latency_us: missing (fixed cost of one call)");
    link.name = jcheck::member(*v, "name") ? jcheck::string(*jcheck::member(*v, "name"), path + ".name")
                                         : "custom";
    link.bytes_per_s = jcheck::positive(*bw, path + ".bytes_per_s");
    link.per_call_latency = Duration::from_seconds(jcheck::non_negative(*lat, path + ".per_call_latency_us") * 1e-6);
    link.source = "scenario";
  } else {
    jcheck::fail(path, "a link name from the catalogue or {\"bytes_per_s\", \"per_call_latency_us\"}", *v);
  }
  out = ordered_json::object();
  out["name"] = link.name;
  out["bytes_per_s"] = link.bytes_per_s;
  out["per_call_latency_us"] = static_cast<double>(link.per_call_latency.ns()) / 1e3;
  return link;
}

PolicySpec parse_policy(const json* v, const std::string& path, const char* fallback) {
  PolicySpec p;
  p.json_path = path;
  if (!v) {
    p.name = fallback;
    return p;
  }
  p.name = jcheck::policy_name(*v, path, fallback, p.params);
  return p;
}

ordered_json policy_json(const PolicySpec& p) {
  ordered_json o = ordered_json::object();
  o["name"] = p.name;
  for (const auto& [k, val] : p.params.items()) o[k] = val;
  return o;
}

std::string model_argument(const std::string& given, const fs::path& base_dir) {
  const bool looks_like_path = given.find('/') != std::string::npos ||
                               (given.size() > 5 && given.substr(given.size() - 5) == ".json");
  if (looks_like_path && fs::path(given).is_relative() && fs::exists(base_dir / given)) {
    return (base_dir / given).string();
  }
  return given;
}

// Copies of a token's KV the tensor-parallel ranks of one attention replica keep: each rank holds
// ceil(kv_heads / TP) heads, so heads are replicated once TP exceeds them; MLA's single latent
// is kept whole on every rank.
double kv_replication(const ModelSpec& m, int64_t tp) {
  const int64_t heads = m.is_mla() ? 1 : m.num_kv_heads;
  const int64_t stored = tp * ((heads + tp - 1) / tp);
  return static_cast<double>(stored) / static_cast<double>(heads);
}

std::string gib(double bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f GiB", bytes / static_cast<double>(kGiB));
  return buf;
}

std::string fraction(double f) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", f);
  return buf;
}

void parse_cluster(const json& c, Scenario& s, ordered_json& out) {
  jcheck::check_object(c, "cluster", {"nodes", "link"});
  const json* nodes = jcheck::member(c, "nodes");
  if (!nodes || !nodes->is_array() || nodes->empty()) {
    jcheck::fail("cluster.nodes", "a non-empty array of node groups", nodes ? *nodes : json());
  }
  const int64_t bytes_per_block = s.kv_shape.block_bytes();
  const int64_t expert_bytes = s.model.routed_expert_bytes();
  const int64_t replica_bytes = s.model.weight_bytes() - expert_bytes;  // all but the routed experts
  int counts[3] = {0, 0, 0};
  ordered_json groups = ordered_json::array();
  for (size_t i = 0; i < nodes->size(); ++i) {
    const std::string path = "cluster.nodes[" + std::to_string(i) + "]";
    const json& g = (*nodes)[i];
    jcheck::check_object(g, path, {"gpu", "count", "role", "tensor_parallel", "data_parallel_attention",
                                   "expert_parallel", "interconnect", "standby"});
    const json* gpu = jcheck::member(g, "gpu");
    if (!gpu) throw_input_error(path + ".gpu: missing (a GPU name, e.g. \"H100-SXM\")");
    const json* role = jcheck::member(g, "role");
    if (!role) throw_input_error(path + ".role: missing (\"prefill\", \"decode\" or \"colocated\")");
    const GpuSpec spec = rethrow_with_path(path + ".gpu", [&] { return find_gpu(jcheck::string(*gpu, path + ".gpu")); });
    const NodeRole r = parse_role(*role, path + ".role");
    const int64_t count = jcheck::member(g, "count") ? jcheck::integer(g["count"], path + ".count", 0) : 1;
    const int64_t tp = jcheck::member(g, "tensor_parallel")
                           ? jcheck::integer(g["tensor_parallel"], path + ".tensor_parallel", 1)
                           : 1;
    if (tp > 64) jcheck::fail(path + ".tensor_parallel", "at most 64", g["tensor_parallel"]);
    const int64_t dp = jcheck::member(g, "data_parallel_attention")
                           ? jcheck::integer(g["data_parallel_attention"], path + ".data_parallel_attention", 1)
                           : 1;
    if (dp > 1024 || tp * dp > 1024) {
      jcheck::fail(path + ".data_parallel_attention", "at most 1024 GPUs per node (tensor_parallel x data_parallel_attention)",
                   g["data_parallel_attention"]);
    }
    const int64_t gpus = tp * dp;
    const int64_t ep = jcheck::member(g, "expert_parallel")
                           ? jcheck::integer(g["expert_parallel"], path + ".expert_parallel", 1)
                           : 1;
    if (ep != 1 && ep != gpus) {
      jcheck::fail(path + ".expert_parallel",
                   "1 (experts split tensor-parallel) or the node's GPU count, tensor_parallel x "
                   "data_parallel_attention = " + std::to_string(gpus),
                   g["expert_parallel"]);
    }
    if (ep > 1 && !s.model.is_moe()) {
      jcheck::fail(path + ".expert_parallel", "1: " + s.model.name + " has no experts", g["expert_parallel"]);
    }
    ordered_json interconnect_out;
    const LinkSpec interconnect = parse_link(jcheck::member(g, "interconnect"), path + ".interconnect", interconnect_out);
    const bool standby = jcheck::member(g, "standby") ? jcheck::boolean(g["standby"], path + ".standby") : false;
    const double memory = static_cast<double>(spec.memory_bytes) * static_cast<double>(gpus) * s.memory_fraction;
    // Every attention replica holds its own copy of everything but the routed experts, which the
    // node holds once (spread over its GPUs).
    const int64_t weights = dp * replica_bytes + expert_bytes;
    const double kv_bytes = memory - static_cast<double>(weights);
    const double replication = kv_replication(s.model, tp);
    const double per_block = static_cast<double>(bytes_per_block) * replication;
    if (kv_bytes < per_block) {
      char buf[320];
      if (dp == 1 && !s.model.is_moe()) {
        std::snprintf(buf, sizeof buf,
                      ": %s's weights (%.1f GiB) leave no room for KV in %lld x %s (%.1f GiB) at "
                      "memory_fraction %.2f; use more tensor_parallel GPUs or a larger GPU",
                      s.model.name.c_str(), static_cast<double>(weights) / kGiB,
                      static_cast<long long>(tp), spec.name.c_str(), memory / kGiB, s.memory_fraction);
        throw_input_error(path + buf);
      }
      throw_input_error(path + ": " + s.model.name + "'s weights (" + gib(static_cast<double>(weights)) + ": " +
                        gib(static_cast<double>(expert_bytes)) + " of routed experts + " + std::to_string(dp) +
                        " x " + gib(static_cast<double>(replica_bytes)) +
                        " of everything else, one copy per data-parallel attention replica) leave no room for KV in " +
                        std::to_string(gpus) + " x " + spec.name + " (" + gib(memory) + " at memory_fraction " + fraction(s.memory_fraction) + "); use more GPUs per node (tensor_parallel x data_parallel_attention) or a larger GPU");
    }
    int64_t num_blocks = std::min<int64_t>(static_cast<int64_t>(kv_bytes / per_block), int64_t{1} << 31);
    if (s.num_blocks > 0) {
      if (s.num_blocks > num_blocks) {
        throw_input_error("kv.num_blocks: " + std::to_string(s.num_blocks) + " blocks do not fit in " + path +
                          " (at most " + std::to_string(num_blocks) + " with memory_fraction " +
                          std::to_string(s.memory_fraction) + ")");
      }
      num_blocks = s.num_blocks;
    }
    for (int64_t k = 0; k < count; ++k) {
      NodeSpec n;
      n.role = r;
      n.name = std::string(1, role_letter(r)) + std::to_string(counts[static_cast<int>(r)]++);
      n.standby = standby;
      n.gpu = spec;
      n.tensor_parallel = static_cast<int32_t>(tp);
      n.data_parallel_attention = static_cast<int32_t>(dp);
      n.expert_parallel = static_cast<int32_t>(ep);
      n.interconnect = interconnect;
      n.kv_replication = replication;
      n.layout.kind = s.layout;
      n.layout.geometry = s.model.kv_geometry(s.block_size, num_blocks);
      n.json_path = path;
      s.nodes.push_back(std::move(n));
    }
    ordered_json o = ordered_json::object();
    o["gpu"] = spec.name;
    o["count"] = count;
    o["role"] = to_string(r);
    o["tensor_parallel"] = tp;
    // Shown only when set, so the resolved scenarios of dense runs read as they always did.
    if (dp != 1) o["data_parallel_attention"] = dp;
    if (ep != 1) o["expert_parallel"] = ep;
    if (ep != 1 || jcheck::member(g, "interconnect")) o["interconnect"] = std::move(interconnect_out);
    o["standby"] = standby;
    o["kv_blocks_per_node"] = num_blocks;
    groups.push_back(std::move(o));
  }
  if (s.nodes.size() > 60000) throw_input_error("cluster.nodes: at most 60000 nodes in all");
  int routable[3] = {0, 0, 0};
  for (const NodeSpec& n : s.nodes) routable[static_cast<int>(n.role)] += n.standby ? 0 : 1;
  const bool colocated = routable[static_cast<int>(NodeRole::kColocated)] > 0;
  const bool disaggregated = routable[static_cast<int>(NodeRole::kPrefill)] > 0 &&
                             routable[static_cast<int>(NodeRole::kDecode)] > 0;
  if (!colocated && !disaggregated) {
    throw_input_error("cluster.nodes: needs at least one non-standby colocated node, or at least "
                      "one non-standby prefill node and one non-standby decode node (has " +
                      std::to_string(routable[0]) + " prefill, " + std::to_string(routable[1]) +
                      " decode, " + std::to_string(routable[2]) + " colocated)");
  }
  ordered_json link_out;
  s.link = parse_link(jcheck::member(c, "link"), "cluster.link", link_out);
  out["nodes"] = std::move(groups);
  out["link"] = std::move(link_out);
}

void parse_kv(const json* kv, Scenario& s, ordered_json& out, int32_t& kv_dtype, std::string& kv_dtype_name) {
  if (kv) {
    jcheck::check_object(*kv, "kv", {"block_size", "layout", "allocator", "transfer", "memory_fraction", "num_blocks",
                                    "prefix_cache", "dtype"});
    if (const json* v = jcheck::member(*kv, "dtype")) {
      kv_dtype = rethrow_with_path("kv.dtype", [&] { return parse_kv_dtype(jcheck::string(*v, "kv.dtype"), "kv.dtype"); });
      kv_dtype_name = v->get<std::string>();
    }
    if (const json* v = jcheck::member(*kv, "num_blocks")) s.num_blocks = jcheck::integer(*v, "kv.num_blocks", 1);
    if (const json* v = jcheck::member(*kv, "block_size")) {
      const int64_t b = jcheck::integer(*v, "kv.block_size", 1);
      if (b > 4096) jcheck::fail("kv.block_size", "at most 4096 tokens", *v);
      s.block_size = static_cast<int32_t>(b);
    }
    if (const json* v = jcheck::member(*kv, "layout")) s.layout = parse_layout(*v, "kv.layout");
    if (const json* v = jcheck::member(*kv, "allocator")) {
      s.allocator = rethrow_with_path("kv.allocator", [&] { return parse_allocator_kind(jcheck::string(*v, "kv.allocator")); });
    }
    if (const json* v = jcheck::member(*kv, "transfer")) {
      s.transfer = rethrow_with_path("kv.transfer", [&] { return parse_transfer_mode(jcheck::string(*v, "kv.transfer")); });
    }
    if (const json* v = jcheck::member(*kv, "memory_fraction")) {
      s.memory_fraction = jcheck::number_in(*v, "kv.memory_fraction", 0.01, 1.0);
    }
    // Prefix cache of every node (core/kv/prefix_cache.h), holding KV blocks of the node's pool:
    // false, true (bounded by the pool: unused entries are evicted when it needs room) or a
    // capacity in 512-token entries as well.
    if (const json* v = jcheck::member(*kv, "prefix_cache")) {
      if (v->is_boolean()) {
        s.prefix_cache_blocks = v->get<bool>() ? -1 : 0;
      } else if (v->is_number()) {
        s.prefix_cache_blocks = jcheck::integer(*v, "kv.prefix_cache", 1);
      } else {
        jcheck::fail("kv.prefix_cache", "false, true (bounded by the pool) or a capacity in 512-token blocks", *v);
      }
      if (s.prefix_cache_blocks != 0 && kPrefixHashBlockTokens % s.block_size != 0) {
        jcheck::fail("kv.prefix_cache", "no prefix cache with kv.block_size " + std::to_string(s.block_size) +
                                            ": cached prefixes are 512-token blocks, so the block size must divide 512",
                     *v);
      }
    }
  }
  out = ordered_json::object();
  out["block_size"] = s.block_size;
  out["layout"] = to_string(s.layout);
  out["allocator"] = to_string(s.allocator);
  out["transfer"] = to_string(s.transfer);
  out["memory_fraction"] = s.memory_fraction;
  if (s.num_blocks > 0) out["num_blocks"] = s.num_blocks;
  if (s.prefix_cache_blocks != 0) {
    out["prefix_cache"] = s.prefix_cache_blocks < 0 ? ordered_json(true) : ordered_json(s.prefix_cache_blocks);
  }
  if (!kv_dtype_name.empty()) out["dtype"] = kv_dtype_name;
}

void parse_cost(const json* c, Scenario& s, ordered_json& out) {
  CostModelSpec& cost = s.cost;
  std::string profile_text;
  if (c) {
    jcheck::check_object(*c, "cost_model", {"kind", "profile", "compute_efficiency", "memory_efficiency", "tp_efficiency",
                                          "iteration_overhead_us", "role_flip_ms", "node_startup_s", "ep_overlap"});
    if (const json* v = jcheck::member(*c, "kind")) {
      const std::string kind = jcheck::string(*v, "cost_model.kind");
      if (kind == "calibrated") {
        cost.kind = CostModelKind::kCalibrated;
      } else if (kind != "roofline") {
        jcheck::fail("cost_model.kind", "\"roofline\" (the default) or \"calibrated\"", *v);
      }
    }
    if (const json* v = jcheck::member(*c, "profile")) {
      profile_text = jcheck::string(*v, "cost_model.profile");
      if (cost.kind != CostModelKind::kCalibrated) {
        throw_input_error("cost_model.profile: a profile is read only with \"kind\": \"calibrated\"");
      }
    }
    if (const json* v = jcheck::member(*c, "ep_overlap")) cost.ep_overlap = jcheck::boolean(*v, "cost_model.ep_overlap");
    if (const json* v = jcheck::member(*c, "compute_efficiency")) cost.compute_efficiency = jcheck::number_in(*v, "cost_model.compute_efficiency", 1e-3, 1.0);
    if (const json* v = jcheck::member(*c, "memory_efficiency")) cost.memory_efficiency = jcheck::number_in(*v, "cost_model.memory_efficiency", 1e-3, 1.0);
    if (const json* v = jcheck::member(*c, "tp_efficiency")) cost.tp_efficiency = jcheck::number_in(*v, "cost_model.tp_efficiency", 1e-3, 1.0);
    if (const json* v = jcheck::member(*c, "iteration_overhead_us")) {
      cost.iteration_overhead = Duration::from_seconds(jcheck::number_in(*v, "cost_model.iteration_overhead_us", 0, 1e9) * 1e-6);
    }
    if (const json* v = jcheck::member(*c, "role_flip_ms")) {
      cost.role_flip = Duration::from_seconds(jcheck::number_in(*v, "cost_model.role_flip_ms", 0, 1e9) * 1e-3);
    }
    if (const json* v = jcheck::member(*c, "node_startup_s")) {
      cost.node_startup = Duration::from_seconds(jcheck::number_in(*v, "cost_model.node_startup_s", 0, 86400));
    }
  }
  if (cost.kind == CostModelKind::kCalibrated) {
    if (profile_text.empty()) {
      throw_input_error("cost_model.profile: missing (kind \"calibrated\" needs the profile flowkv calibrate wrote)");
    }
    cost.profile_path = fs::path(profile_text).is_absolute() ? fs::path(profile_text) : s.base_dir / profile_text;
    auto profile = std::make_shared<CalibrationProfile>(
        rethrow_with_path("cost_model.profile", [&] { return load_profile(cost.profile_path); }));
    rethrow_with_path("cost_model.profile", [&] { check_profile_fits(*profile, s.model, s.block_size, s.layout); });
    for (const NodeSpec& n : s.nodes) {
      if (n.gpus() != 1) {
        throw_input_error(n.json_path + (n.tensor_parallel != 1 ? ".tensor_parallel" : ".data_parallel_attention") +
                          ": the calibrated cost model prices one device as profiled; a node must be one GPU "
                          "(use the roofline for tensor- or data-parallel nodes)");
      }
    }
    cost.profile = std::move(profile);
  }
  out = ordered_json::object();
  // Only a calibrated model adds keys: the default's resolved scenario is what it always was.
  if (cost.kind == CostModelKind::kCalibrated) {
    out["kind"] = "calibrated";
    out["profile"] = profile_text;
  }
  out["compute_efficiency"] = cost.compute_efficiency;
  out["memory_efficiency"] = cost.memory_efficiency;
  out["tp_efficiency"] = cost.tp_efficiency;
  out["iteration_overhead_us"] = static_cast<double>(cost.iteration_overhead.ns()) / 1e3;
  out["role_flip_ms"] = static_cast<double>(cost.role_flip.ns()) / 1e6;
  out["node_startup_s"] = cost.node_startup.seconds();
  if (cost.ep_overlap) out["ep_overlap"] = true;
}

// "accept_unmodelled": true (every key) or the config keys FlowKV may read without modelling.
ModelReadOptions parse_accept(const json* v) {
  ModelReadOptions o;
  if (!v) return o;
  if (v->is_boolean()) {
    o.accept_all = v->get<bool>();
    return o;
  }
  if (!v->is_array()) jcheck::fail("accept_unmodelled", "true or an array of model config keys", *v);
  for (size_t i = 0; i < v->size(); ++i) {
    o.accept_unmodelled.push_back(jcheck::string((*v)[i], "accept_unmodelled[" + std::to_string(i) + "]"));
  }
  return o;
}

// "a.b[2].c" -> steps; a step is a key or an index.
struct PathStep {
  std::string key;
  int64_t index = -1;
};

std::vector<PathStep> parse_path(const std::string& path, const std::string& assignment) {
  std::vector<PathStep> steps;
  size_t i = 0;
  auto bad = [&](const std::string& why) {
    throw_input_error("--set " + assignment + ": " + why +
                      " (expected json.path=value, e.g. cluster.nodes[0].count=3)");
  };
  while (i < path.size()) {
    if (path[i] == '[') {
      const size_t close = path.find(']', i);
      if (close == std::string::npos) bad("unclosed '['");
      const std::string digits = path.substr(i + 1, close - i - 1);
      if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos || digits.size() > 9) {
        bad("'[" + digits + "]' is not an array index");
      }
      steps.push_back({"", std::stoll(digits)});
      i = close + 1;
      if (i < path.size() && path[i] == '.') ++i;
      continue;
    }
    size_t end = path.find_first_of(".[", i);
    if (end == std::string::npos) end = path.size();
    if (end == i) bad("empty key in the path");
    steps.push_back({path.substr(i, end - i), -1});
    i = end;
    if (i < path.size() && path[i] == '.') {
      ++i;
      if (i == path.size()) bad("the path ends with '.'");
    }
  }
  if (steps.empty()) bad("empty path");
  return steps;
}

// Command-line bytes need not be UTF-8, but JSON strings must be: printing the resolved scenario
// (summary.json) would fail at the end of the run. `what` names the flag.
void require_utf8(const std::string& text, const std::string& what) {
  try {
    (void)json(text).dump();
  } catch (const json::type_error& e) {
    throw_input_error(what + " " + json(text).dump(-1, ' ', false, json::error_handler_t::replace) +
                      ": not valid UTF-8 text (" + e.what() + ")");
  }
}

const json& require_member(const json& j, const char* key, const char* what) {
  const json* v = jcheck::member(j, key);
  if (!v) throw_input_error(std::string(key) + ": missing (" + what + ")");
  return *v;
}

}  // namespace

json read_scenario_json(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw_input_error(path.string() + ": cannot open the scenario file");
  std::ostringstream text;
  text << in.rdbuf();
  const std::string s = text.str();
  try {
    return json::parse(s);
  } catch (const json::parse_error& e) {
    const size_t byte = std::min<size_t>(e.byte, s.size());
    const auto line = 1 + std::count(s.begin(), s.begin() + static_cast<std::ptrdiff_t>(byte), '\n');
    throw_input_error(path.string() + ":" + std::to_string(line) + ": not valid JSON (" + e.what() + ")");
  } catch (const json::out_of_range& e) {  // a number too large for a double, e.g. 1e999
    throw_input_error(path.string() + ": not valid JSON (" + e.what() + ")");
  }
}

void apply_set(json& root, const std::string& assignment) {
  require_utf8(assignment, "--set");
  const size_t eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0) {
    throw_input_error("--set " + assignment + ": expected json.path=value, e.g. workload.max_requests=100");
  }
  const std::string path = assignment.substr(0, eq);
  const std::string text = assignment.substr(eq + 1);
  json value;
  try {
    value = json::parse(text);
  } catch (const json::exception&) {  // parse_error, or out_of_range for a number like 1e999
    value = text;  // a bare word: a string
  }
  const std::vector<PathStep> steps = parse_path(path, assignment);
  json* node = &root;
  std::string where;
  for (const PathStep& step : steps) {
    if (step.index >= 0) {
      // Appended piecewise: "[" + to_string + "]" trips GCC 12's false -Wrestrict at -O3.
      where += '[';
      where += std::to_string(step.index);
      where += ']';
      if (!node->is_array() || step.index >= static_cast<int64_t>(node->size())) {
        throw_input_error("--set " + assignment + ": " + where + " does not exist (" +
                          (node->is_array() ? "the array has " + std::to_string(node->size()) + " elements" : "not an array") + ")");
      }
      node = &(*node)[static_cast<size_t>(step.index)];
    } else {
      if (node->is_null()) *node = json::object();
      if (!node->is_object()) {
        throw_input_error("--set " + assignment + ": cannot set key '" + step.key + "' inside a " +
                          node->type_name() + (where.empty() ? "" : " at " + where));
      }
      where += (where.empty() ? "" : ".") + step.key;
      node = &(*node)[step.key];
    }
  }
  *node = std::move(value);
}

void apply_flag_overrides(json& root, const ScenarioOverrides& o) {
  if (!root.is_object()) jcheck::fail("(scenario)", "a JSON object", root);
  for (const auto& [flag, value] : {std::pair{"--trace", &o.trace}, {"--trace-format", &o.trace_format},
                                    {"--model", &o.model}, {"--gpu", &o.gpu}, {"--policy", &o.policy}}) {
    if (*value) require_utf8(**value, flag);
  }
  auto object_at = [](json& parent, const char* key) -> json& {
    json& v = parent[key];
    if (!v.is_object()) v = json::object();
    return v;
  };
  if (o.trace) {
    if (o.trace->empty()) throw_input_error("--trace: expected a trace file name, got ''");
    json& w = object_at(root, "workload");
    w.erase("generator");
    w.erase("format");
    w["trace"] = fs::absolute(*o.trace).lexically_normal().string();
  }
  if (o.trace_format) object_at(root, "workload")["format"] = *o.trace_format;
  if (o.model) root["model"] = *o.model;
  const bool any_count = o.prefill_nodes || o.decode_nodes || o.colocated_nodes;
  if (o.gpu || any_count) {
    json& cluster = object_at(root, "cluster");
    json& nodes = cluster["nodes"];
    if (!nodes.is_array()) nodes = json::array();
    if (o.gpu) {
      for (json& g : nodes) {
        if (g.is_object()) g["gpu"] = *o.gpu;
      }
    }
    // A role group the flags create takes --gpu, else the scenario's first group's GPU (read before
    // any group is dropped: "--prefill-nodes 0 --decode-nodes 0 --colocated-nodes 1" keeps the GPU).
    json default_gpu = "H100-SXM";
    if (o.gpu) {
      default_gpu = *o.gpu;
    } else if (!nodes.empty() && nodes[0].is_object() && nodes[0].contains("gpu")) {
      default_gpu = nodes[0]["gpu"];
    }
    const std::pair<const char*, std::optional<int64_t>> counts[] = {
        {"prefill", o.prefill_nodes}, {"decode", o.decode_nodes}, {"colocated", o.colocated_nodes}};
    for (const auto& [role, count] : counts) {
      if (!count) continue;
      if (*count < 0) throw_input_error(std::string("--") + role + "-nodes: expected a count >= 0");
      json group = json::object();
      json kept = json::array();
      for (const json& g : nodes) {
        const bool same = g.is_object() && g.contains("role") && g["role"] == role;
        if (same && group.empty()) group = g;
        if (!same) kept.push_back(g);
      }
      if (group.empty()) {
        group["gpu"] = default_gpu;
        group["role"] = role;
      }
      group["count"] = *count;
      if (*count > 0) kept.push_back(group);
      nodes = std::move(kept);
    }
  }
  if (o.policy) object_at(root, "policies")["global"] = *o.policy;
  if (o.accept_unmodelled) {
    require_utf8(*o.accept_unmodelled, "--accept-unmodelled");
    if (*o.accept_unmodelled == "all") {
      root["accept_unmodelled"] = true;
    } else {
      json& list = root["accept_unmodelled"];
      if (!list.is_array()) list = json::array();
      std::string rest = *o.accept_unmodelled;
      while (!rest.empty()) {
        const size_t comma = rest.find(',');
        const std::string key = rest.substr(0, comma);
        if (key.empty()) throw_input_error("--accept-unmodelled: expected KEY[,KEY...] or all, got '" + *o.accept_unmodelled + "'");
        list.push_back(key);
        rest = comma == std::string::npos ? "" : rest.substr(comma + 1);
      }
    }
  }
  if (o.rate_scale) object_at(root, "workload")["rate_scale"] = *o.rate_scale;
  if (o.seed) root["seed"] = *o.seed;
  for (const std::string& s : o.sets) apply_set(root, s);
}

void append_fault_overrides(json& root, const ScenarioOverrides& o) {
  if (!o.faults.empty()) {
    json& faults = root["faults"];
    if (faults.is_null()) faults = json::array();
    if (!faults.is_array()) jcheck::fail("faults", "an array (--fault appends to it)", faults);
    for (const std::string& f : o.faults) faults.push_back(fault_flag_to_json(f));
  }
}

// "placement": {"P0": 1, "D0": {"rank": 2, "device": 0}, ...}: every node, by name.
static ordered_json parse_placement(const json& v, Scenario& s) {
  if (!v.is_object()) jcheck::fail("placement", "an object mapping every node name to a rank or {\"rank\", \"device\"}", v);
  std::vector<std::string> names;
  for (const NodeSpec& n : s.nodes) names.push_back(n.name);
  jcheck::check_object(v, "placement", names);
  s.placement.resize(s.nodes.size());
  ordered_json out = ordered_json::object();
  std::string missing;
  for (size_t i = 0; i < s.nodes.size(); ++i) {
    const std::string& name = s.nodes[i].name;
    const json* p = jcheck::member(v, name.c_str());
    if (p == nullptr) {
      missing += (missing.empty() ? "" : ", ") + name;
      continue;
    }
    const std::string path = "placement." + name;
    NodePlacement& np = s.placement[i];
    if (p->is_object()) {
      jcheck::check_object(*p, path, {"rank", "device"});
      const json* rank = jcheck::member(*p, "rank");
      if (rank == nullptr) jcheck::fail(path + ".rank", "an integer >= 0 (the MPI rank hosting the node)", json());
      np.rank = static_cast<int32_t>(std::min<int64_t>(jcheck::integer(*rank, path + ".rank", 0), 1 << 20));
      if (const json* d = jcheck::member(*p, "device")) {
        np.device = static_cast<int32_t>(std::min<int64_t>(jcheck::integer(*d, path + ".device", 0), 1 << 10));
      }
    } else {
      np.rank = static_cast<int32_t>(std::min<int64_t>(jcheck::integer(*p, path, 0), 1 << 20));
    }
    ordered_json o = ordered_json::object();
    o["rank"] = np.rank;
    if (np.device >= 0) o["device"] = np.device;
    out[name] = std::move(o);
  }
  if (!missing.empty()) {
    throw_input_error("placement: every node needs a rank; missing: " + missing);
  }
  return out;
}

Scenario parse_scenario_spec(const json& root, const std::string& source, const fs::path& base_dir) {
  if (!root.is_object()) throw_input_error(source + ": expected a JSON object (a scenario)");
  jcheck::check_object(root, "", {"name", "description", "cluster", "model", "kv", "workload", "policies",
                                "slo", "seed", "cost_model", "max_retries", "faults", "placement",
                                "accept_unmodelled"});
  Scenario s;
  s.base_dir = base_dir;
  ordered_json out = ordered_json::object();
  s.name = jcheck::member(root, "name") ? jcheck::string(root["name"], "name") : "scenario";
  if (s.name.empty() || s.name.find_first_of("/\\") != std::string::npos || s.name == "." || s.name == "..") {
    jcheck::fail("name", "a non-empty name without '/' (it names the result folder)", root["name"]);
  }
  s.description = jcheck::member(root, "description") ? jcheck::string(root["description"], "description") : "";
  out["name"] = s.name;
  out["description"] = s.description;

  ordered_json kv_out;
  int32_t kv_dtype = 0;
  std::string kv_dtype_name;
  parse_kv(jcheck::member(root, "kv"), s, kv_out, kv_dtype, kv_dtype_name);

  const json& model = require_member(root, "model", "a model name such as \"llama-3.1-8b\" or a path to a config.json");
  const std::string model_name = jcheck::string(model, "model");
  s.accept = parse_accept(jcheck::member(root, "accept_unmodelled"));
  s.model = rethrow_with_path("model", [&] { return find_model(model_argument(model_name, base_dir), s.accept); });
  if (kv_dtype > 0) s.model.kv_dtype_bytes = kv_dtype;
  for (const std::string& u : s.model.unmodelled) {
    s.warnings.push_back("model config key " + u + "; accepted by accept_unmodelled, so the figures leave it out");
  }
  s.kv_shape = s.model.kv_geometry(s.block_size, 0);
  if (s.prefix_cache_blocks != 0 && s.model.window.num_layers > 0) {
    throw_input_error("kv.prefix_cache: not modelled for " + s.model.name + ", whose " +
                      std::to_string(s.model.window.num_layers) +
                      " sliding-window layers keep only part of a request's KV (use false)");
  }

  ordered_json cluster_out = ordered_json::object();
  parse_cluster(require_member(root, "cluster", "{\"nodes\": [...], \"link\": ...}"), s, cluster_out);
  out["cluster"] = std::move(cluster_out);
  out["model"] = model_name;
  if (const json* v = jcheck::member(root, "accept_unmodelled")) out["accept_unmodelled"] = *v;
  out["kv"] = std::move(kv_out);

  const json& workload = require_member(root, "workload", "{\"trace\": FILE, ...} or {\"generator\": {...}, ...}");
  if (!workload.is_object()) jcheck::fail("workload", "an object", workload);
  s.workload = workload;
  out["workload"] = workload;

  const json* policies = jcheck::member(root, "policies");
  if (policies) jcheck::check_object(*policies, "policies", {"global", "batch", "role", "recovery", "profile"});
  s.global = parse_policy(policies ? jcheck::member(*policies, "global") : nullptr, "policies.global", "round-robin");
  s.batch = parse_policy(policies ? jcheck::member(*policies, "batch") : nullptr, "policies.batch", "continuous");
  s.role = parse_policy(policies ? jcheck::member(*policies, "role") : nullptr, "policies.role", "static");
  s.recovery = parse_policy(policies ? jcheck::member(*policies, "recovery") : nullptr, "policies.recovery", "reroute");

  if (const json* slo = jcheck::member(root, "slo")) {
    jcheck::check_object(*slo, "slo", {"ttft_s", "tpot_s"});
    s.slo.ttft_s = jcheck::member(*slo, "ttft_s") ? jcheck::positive((*slo)["ttft_s"], "slo.ttft_s") : 0;
    s.slo.tpot_s = jcheck::member(*slo, "tpot_s") ? jcheck::positive((*slo)["tpot_s"], "slo.tpot_s") : 0;
  }
  if (s.slo.ttft_s == 0) s.slo.ttft_s = 2.0;
  if (s.slo.tpot_s == 0) s.slo.tpot_s = 0.1;
  if (const json* v = jcheck::member(root, "seed")) {
    if (!v->is_number_unsigned() && !(v->is_number_integer() && v->get<int64_t>() >= 0)) {
      jcheck::fail("seed", "an integer >= 0", *v);
    }
    s.seed = v->get<uint64_t>();
  }
  ordered_json cost_out;
  parse_cost(jcheck::member(root, "cost_model"), s, cost_out);
  if (const json* v = jcheck::member(root, "max_retries")) {
    s.max_retries = static_cast<int32_t>(std::min<int64_t>(jcheck::integer(*v, "max_retries", 0), 1000));
  }

  ordered_json pol = ordered_json::object();
  pol["global"] = policy_json(s.global);
  pol["batch"] = policy_json(s.batch);
  pol["role"] = policy_json(s.role);
  pol["recovery"] = policy_json(s.recovery);
  // What the global policy's profile changed (core/sched/policy_profile.h), or false when turned off.
  if (const json* v = policies ? jcheck::member(*policies, "profile") : nullptr) {
    if (!v->is_boolean() && !v->is_object()) jcheck::fail("policies.profile", "false, true or a recorded profile", *v);
    if (!v->is_boolean() || !v->get<bool>()) pol["profile"] = *v;
  }
  out["policies"] = std::move(pol);
  ordered_json slo_out = ordered_json::object();
  slo_out["ttft_s"] = s.slo.ttft_s;
  slo_out["tpot_s"] = s.slo.tpot_s;
  out["slo"] = std::move(slo_out);
  out["seed"] = s.seed;
  out["cost_model"] = std::move(cost_out);
  out["max_retries"] = s.max_retries;
  ordered_json faults_out = ordered_json::array();
  if (const json* v = jcheck::member(root, "faults")) {
    std::vector<std::string> names;
    for (const NodeSpec& n : s.nodes) names.push_back(n.name);
    s.faults = parse_faults(*v, names, faults_out);
  }
  out["faults"] = std::move(faults_out);
  if (const json* v = jcheck::member(root, "placement")) out["placement"] = parse_placement(*v, s);
  s.resolved = std::move(out);
  return s;
}

const char* to_string(CostModelKind kind) {
  return kind == CostModelKind::kCalibrated ? "calibrated" : "roofline";
}

fs::path find_scenario_file(const fs::path& path) {
  std::vector<fs::path> tried = {path};
  if (fs::is_regular_file(path)) return path;
  if (path.is_relative()) {
    const fs::path dir = repository_dir() / "scenarios";
    for (fs::path c : {dir / path, dir / (path.string() + ".json")}) {
      tried.push_back(c);
      if (fs::is_regular_file(c)) return c;
    }
  }
  std::string where;
  for (const auto& t : tried) where += (where.empty() ? "" : ", ") + t.string();
  throw_input_error("scenario file '" + path.string() + "' not found (looked at " + where + ")");
}

}  // namespace flowkv::core
