#include "core/spec/fault_spec.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "core/base/error.h"
#include "core/base/json_check.h"

namespace flowkv::core {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;

// Longer than any run worth simulating, short enough that at + for stays far inside int64 ns.
constexpr double kMaxSeconds = 1e8;

FaultKind parse_kind(const json& v, const std::string& path) {
  const std::string s = jcheck::string(v, path);
  if (s == "crash") return FaultKind::kCrash;
  if (s == "link-slow") return FaultKind::kLinkSlow;
  if (s == "link-down") return FaultKind::kLinkDown;
  jcheck::fail(path, "one of \"crash\", \"link-slow\", \"link-down\"", v);
}

NodeId parse_node(const json& v, const std::string& path, const std::vector<std::string>& names) {
  auto known = [&] {
    std::string list;
    for (const std::string& n : names) list += (list.empty() ? "" : ", ") + n;
    return "a node index 0.." + std::to_string(names.size() - 1) + " or a node name (" + list + ")";
  };
  if (v.is_string()) {
    const std::string name = v.get<std::string>();
    for (size_t i = 0; i < names.size(); ++i) {
      if (names[i] == name) return NodeId{static_cast<uint32_t>(i)};
    }
    jcheck::fail(path, known(), v);
  }
  if (!v.is_number()) jcheck::fail(path, known(), v);
  const double d = v.get<double>();
  if (!(d >= 0 && d < static_cast<double>(names.size()) && d == std::floor(d))) jcheck::fail(path, known(), v);
  return NodeId{static_cast<uint32_t>(d)};
}

}  // namespace

const char* to_string(FaultKind kind) {
  switch (kind) {
    case FaultKind::kCrash: return "crash";
    case FaultKind::kLinkSlow: return "link-slow";
    case FaultKind::kLinkDown: return "link-down";
  }
  return "unknown";
}

std::vector<FaultSpec> parse_faults(const json& faults, const std::vector<std::string>& node_names,
                                    ordered_json& resolved) {
  if (!faults.is_array()) jcheck::fail("faults", "an array of {\"node\", \"at_s\", ...}", faults);
  std::vector<FaultSpec> out;
  resolved = ordered_json::array();
  for (size_t i = 0; i < faults.size(); ++i) {
    const json& f = faults[i];
    const json* flag = jcheck::member(f, kFaultFlagKey);
    // Errors name the flag the user typed when the entry came from --fault.
    const std::string base = flag && flag->is_string() ? "--fault " + flag->get<std::string>() + ": "
                                                       : "faults[" + std::to_string(i) + "].";
    const std::string where = flag && flag->is_string() ? base.substr(0, base.size() - 2) : "faults[" + std::to_string(i) + "]";
    if (!f.is_object()) jcheck::fail(where, "an object {\"node\", \"at_s\", ...}", f);
    jcheck::check_object(f, where, {"node", "at_s", "for_s", "kind", "factor", kFaultFlagKey});
    FaultSpec spec;
    const json* node = jcheck::member(f, "node");
    if (!node) throw_input_error(base + "node: missing (a node index or name, e.g. 0 or \"D0\")");
    spec.node = parse_node(*node, base + "node", node_names);
    const json* at = jcheck::member(f, "at_s");
    if (!at) throw_input_error(base + "at_s: missing (when the fault starts, in seconds)");
    spec.at = Time::zero() + Duration::from_seconds(jcheck::number_in(*at, base + "at_s", 0, kMaxSeconds));
    if (const json* d = jcheck::member(f, "for_s")) {
      const double s = jcheck::number_in(*d, base + "for_s", 0, kMaxSeconds);
      if (!(s > 0)) jcheck::fail(base + "for_s", "a positive number of seconds (leave it out for the rest of the run)", *d);
      spec.duration = std::max(Duration::nanos(1), Duration::from_seconds(s));
    }
    if (const json* k = jcheck::member(f, "kind")) spec.kind = parse_kind(*k, base + "kind");
    if (const json* factor = jcheck::member(f, "factor")) {
      if (spec.kind != FaultKind::kLinkSlow) {
        throw_input_error(base + "factor: only a link-slow fault takes a factor (this one is " +
                          to_string(spec.kind) + ")");
      }
      // Not below 1e-6: a slower link is a dead one (use link-down), and rates stay representable.
      spec.factor = jcheck::number_in(*factor, base + "factor", 1e-6, 1);
    } else if (spec.kind == FaultKind::kLinkSlow) {
      throw_input_error(base + "factor: missing (a link-slow fault multiplies the bandwidth by a factor in [1e-06, 1])");
    }
    out.push_back(spec);
  }
  std::stable_sort(out.begin(), out.end(), [](const FaultSpec& a, const FaultSpec& b) { return a.at < b.at; });
  for (const FaultSpec& spec : out) {
    ordered_json o = ordered_json::object();
    o["node"] = node_names[to_int(spec.node)];
    o["kind"] = to_string(spec.kind);
    o["at_s"] = spec.at.seconds();
    if (spec.duration) o["for_s"] = spec.duration->seconds();
    if (spec.kind == FaultKind::kLinkSlow) o["factor"] = spec.factor;
    resolved.push_back(std::move(o));
  }
  return out;
}

json fault_flag_to_json(const std::string& text) {
  // Command-line bytes need not be UTF-8; JSON text must be, or printing it fails later.
  try {
    (void)json(text).dump();
  } catch (const json::type_error& e) {
    throw_input_error("--fault " + json(text).dump(-1, ' ', false, json::error_handler_t::replace) +
                      ": not valid UTF-8 text");
  }
  const std::string flag = "--fault " + text;
  auto bad = [&](const std::string& why) {
    throw_input_error(flag + ": " + why +
                      " (expected node=N,at=SECONDS[,for=SECONDS][,kind=crash|link-slow|link-down][,factor=F])");
  };
  json out = json::object();
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t comma = text.find(',', pos);
    if (comma == std::string::npos) comma = text.size();
    const std::string item = text.substr(pos, comma - pos);
    pos = comma + 1;
    if (item.empty()) bad("empty item");
    const size_t eq = item.find('=');
    if (eq == std::string::npos || eq == 0) bad("'" + item + "' is not key=value");
    const std::string key = item.substr(0, eq);
    const std::string value = item.substr(eq + 1);
    if (value.empty()) bad(key + " has no value");
    auto number = [&]() -> json {
      char* end = nullptr;
      const double d = std::strtod(value.c_str(), &end);
      if (end == value.c_str() || *end != '\0') bad(key + "=" + value + ": not a number");
      return d;
    };
    std::string json_key;
    json json_value;
    if (key == "node") {
      json_key = "node";
      const bool digits = value.find_first_not_of("0123456789") == std::string::npos && value.size() <= 9;
      json_value = digits ? json(std::stoll(value)) : json(value);
    } else if (key == "at") {
      json_key = "at_s";
      json_value = number();
    } else if (key == "for") {
      json_key = "for_s";
      json_value = number();
    } else if (key == "kind") {
      json_key = "kind";
      json_value = value;
    } else if (key == "factor") {
      json_key = "factor";
      json_value = number();
    } else {
      bad("unknown key '" + key + "'");
    }
    if (out.contains(json_key)) bad(key + " given twice");
    out[json_key] = std::move(json_value);
  }
  if (!out.contains("node")) bad("node= is missing");
  if (!out.contains("at_s")) bad("at= is missing");
  out[kFaultFlagKey] = text;
  return out;
}

}  // namespace flowkv::core
