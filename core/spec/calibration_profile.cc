#include "core/spec/calibration_profile.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "core/base/error.h"
#include "core/base/json_check.h"

namespace flowkv::core {

namespace fs = std::filesystem;
using nlohmann::json;
using nlohmann::ordered_json;

const char* to_string(IterationPhase phase) {
  switch (phase) {
    case IterationPhase::kPrefill:
      return "prefill";
    case IterationPhase::kDecode:
      return "decode";
    case IterationPhase::kMixed:
      return "mixed";
  }
  return "unknown";
}

IterationPhase phase_of(const IterationShape& s) {
  if (s.decode_items == 0) return IterationPhase::kPrefill;
  return s.prefill_items == 0 ? IterationPhase::kDecode : IterationPhase::kMixed;
}

ProfileModel profile_model_of(const ModelSpec& m) {
  ProfileModel p;
  p.name = m.name;
  p.num_layers = m.num_layers;
  p.hidden_size = m.hidden_size;
  p.num_heads = m.num_heads;
  p.num_kv_heads = m.num_kv_heads;
  p.head_dim = m.head_dim;
  p.intermediate_size = m.intermediate_size;
  p.vocab_size = m.vocab_size;
  p.dtype_bytes = m.dtype_bytes;
  return p;
}

double median_of(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

namespace {

constexpr const char* kFormat = "flowkv-profile";
constexpr int kVersion = 1;

// The model keys, in the order written.
struct ModelKey {
  const char* key;
  int32_t ProfileModel::*field;
};
constexpr ModelKey kModelKeys[] = {
    {"num_layers", &ProfileModel::num_layers},       {"hidden_size", &ProfileModel::hidden_size},
    {"num_heads", &ProfileModel::num_heads},         {"num_kv_heads", &ProfileModel::num_kv_heads},
    {"head_dim", &ProfileModel::head_dim},           {"intermediate_size", &ProfileModel::intermediate_size},
    {"vocab_size", &ProfileModel::vocab_size},       {"dtype_bytes", &ProfileModel::dtype_bytes},
};

struct ShapeKey {
  const char* key;
  int64_t IterationShape::*field;
};
constexpr ShapeKey kShapeKeys[] = {
    {"prefill_items", &IterationShape::prefill_items},     {"prefill_tokens", &IterationShape::prefill_tokens},
    {"prefill_context", &IterationShape::prefill_context}, {"attention_pairs", &IterationShape::attention_pairs},
    {"decode_items", &IterationShape::decode_items},       {"decode_context", &IterationShape::decode_context},
};

const json& require(const json& j, const char* key, const std::string& path, const char* what) {
  const json* v = jcheck::member(j, key);
  if (!v) throw_input_error((path.empty() ? std::string(key) : path + "." + key) + ": missing (" + what + ")");
  return *v;
}

std::vector<double> read_times(const json& point, const std::string& path, double& median) {
  const json& t = require(point, "times_s", path, "the timed repeats in seconds");
  if (!t.is_array() || t.empty()) jcheck::fail(path + ".times_s", "a non-empty array of seconds", t);
  std::vector<double> times;
  for (size_t i = 0; i < t.size(); ++i) times.push_back(jcheck::positive(t[i], path + ".times_s[" + std::to_string(i) + "]"));
  median = jcheck::positive(require(point, "median_s", path, "the median of times_s"), path + ".median_s");
  return times;
}

ordered_json times_json(const std::vector<double>& times) {
  ordered_json a = ordered_json::array();
  for (const double t : times) a.push_back(t);
  return a;
}

CalibrationProfile parse_body(const json& root) {
  CalibrationProfile p;
  if (!root.is_object()) jcheck::fail("(top level)", "a JSON object (a calibration profile)", root);
  jcheck::check_object(root, "", {"format", "version", "command", "device", "versions", "model", "settings", "overhead",
                                  "iterations", "transfers"});
  const json& format = require(root, "format", "", "\"flowkv-profile\"");
  if (!format.is_string() || format.get<std::string>() != kFormat) jcheck::fail("format", "\"flowkv-profile\"", format);
  const int64_t version = jcheck::integer(require(root, "version", "", "the format version, 1"), "version", 1);
  if (version != kVersion) jcheck::fail("version", "1 (this flowkv reads version 1)", root["version"]);
  p.command = jcheck::member(root, "command") ? jcheck::string(root["command"], "command") : "";
  p.device = jcheck::string(require(root, "device", "", "the device the timings were taken on"), "device");
  if (const json* v = jcheck::member(root, "versions")) {
    if (!v->is_object()) jcheck::fail("versions", "an object", *v);
    p.versions = *v;
  }

  const json& model = require(root, "model", "", "the model's name and shape");
  if (!model.is_object()) jcheck::fail("model", "an object", model);
  p.model.name = jcheck::string(require(model, "name", "model", "the model's name"), "model.name");
  for (const ModelKey& k : kModelKeys) {
    p.model.*k.field = static_cast<int32_t>(
        std::min<int64_t>(jcheck::integer(require(model, k.key, "model", "the model's shape"), std::string("model.") + k.key, 1),
                          INT32_MAX));
  }

  const json& settings = require(root, "settings", "", "how the timings were taken");
  if (!settings.is_object()) jcheck::fail("settings", "an object", settings);
  p.block_size = static_cast<int32_t>(std::min<int64_t>(
      jcheck::integer(require(settings, "block_size", "settings", "tokens per KV block"), "settings.block_size", 1), 1 << 20));
  p.settings = settings;

  const json& overhead = require(root, "overhead", "", "the live backend's overhead measurements");
  if (!overhead.is_object()) jcheck::fail("overhead", "an object", overhead);
  const json& gaps = require(overhead, "iteration_gaps_s", "overhead", "gaps between iterations of a busy node, seconds");
  if (!gaps.is_array()) jcheck::fail("overhead.iteration_gaps_s", "an array of seconds", gaps);
  for (size_t i = 0; i < gaps.size(); ++i) {
    p.overhead_gaps_s.push_back(jcheck::non_negative(gaps[i], "overhead.iteration_gaps_s[" + std::to_string(i) + "]"));
  }
  const json& trs = require(overhead, "transfers", "overhead", "the live run's KV transfers");
  if (!trs.is_array()) jcheck::fail("overhead.transfers", "an array", trs);
  for (size_t i = 0; i < trs.size(); ++i) {
    const std::string path = "overhead.transfers[" + std::to_string(i) + "]";
    jcheck::check_object(trs[i], path, {"calls", "bytes", "seconds"});
    ProfileLiveTransfer t;
    t.calls = jcheck::integer(require(trs[i], "calls", path, "transport calls"), path + ".calls", 0);
    t.bytes = jcheck::integer(require(trs[i], "bytes", path, "bytes moved"), path + ".bytes", 0);
    t.seconds = jcheck::non_negative(require(trs[i], "seconds", path, "submit to completion"), path + ".seconds");
    p.overhead_transfers.push_back(t);
  }
  for (const auto& [key, value] : overhead.items()) {
    if (key != "iteration_gaps_s" && key != "transfers") p.overhead_detail[key] = value;
  }

  const json& its = require(root, "iterations", "", "the timed iterations");
  if (!its.is_array() || its.empty()) jcheck::fail("iterations", "a non-empty array", its);
  for (size_t i = 0; i < its.size(); ++i) {
    const std::string path = "iterations[" + std::to_string(i) + "]";
    const json& e = its[i];
    jcheck::check_object(e, path, {"layout", "prefill_items", "prefill_tokens", "prefill_context", "attention_pairs",
                                   "decode_items", "decode_context", "times_s", "median_s"});
    ProfileIteration it;
    const std::string layout = jcheck::string(require(e, "layout", path, "paged or contiguous"), path + ".layout");
    if (layout == "paged") {
      it.layout = LayoutKind::kPagedPerLayer;
    } else if (layout == "contiguous") {
      it.layout = LayoutKind::kBlockContiguous;
    } else {
      jcheck::fail(path + ".layout", "\"paged\" or \"contiguous\"", e["layout"]);
    }
    for (const ShapeKey& k : kShapeKeys) {
      it.shape.*k.field = jcheck::integer(require(e, k.key, path, "an iteration total"), path + "." + k.key, 0);
    }
    const IterationShape& s = it.shape;
    if (s.prefill_items + s.decode_items == 0) {
      throw_input_error(path + ": an iteration needs prefill_items or decode_items > 0");
    }
    if ((s.prefill_items == 0) != (s.prefill_tokens == 0) || s.prefill_tokens < s.prefill_items) {
      throw_input_error(path + ".prefill_tokens: expected at least one token per prefill item (and none without items)");
    }
    it.times_s = read_times(e, path, it.median_s);
    p.iterations.push_back(std::move(it));
  }

  if (const json* tr = jcheck::member(root, "transfers")) {
    if (!tr->is_array()) jcheck::fail("transfers", "an array", *tr);
    for (size_t i = 0; i < tr->size(); ++i) {
      const std::string path = "transfers[" + std::to_string(i) + "]";
      const json& e = (*tr)[i];
      jcheck::check_object(e, path, {"calls", "bytes", "times_s", "median_s"});
      ProfileTransfer t;
      t.calls = jcheck::integer(require(e, "calls", path, "transport calls"), path + ".calls", 1);
      t.bytes = jcheck::integer(require(e, "bytes", path, "bytes moved"), path + ".bytes", 0);
      t.times_s = read_times(e, path, t.median_s);
      p.transfers.push_back(std::move(t));
    }
  }
  return p;
}

}  // namespace

ordered_json profile_to_json(const CalibrationProfile& p) {
  ordered_json root = ordered_json::object();
  root["format"] = kFormat;
  root["version"] = kVersion;
  root["command"] = p.command;
  root["device"] = p.device;
  root["versions"] = p.versions;
  ordered_json model = ordered_json::object();
  model["name"] = p.model.name;
  for (const ModelKey& k : kModelKeys) model[k.key] = p.model.*k.field;
  root["model"] = std::move(model);
  ordered_json settings = p.settings.is_object() ? p.settings : ordered_json::object();
  settings["block_size"] = p.block_size;
  root["settings"] = std::move(settings);
  ordered_json overhead = ordered_json::object();
  for (const auto& [key, value] : p.overhead_detail.items()) {
    if (key != "iteration_gaps_s" && key != "transfers") overhead[key] = value;
  }
  overhead["iteration_gaps_s"] = times_json(p.overhead_gaps_s);
  ordered_json live = ordered_json::array();
  for (const ProfileLiveTransfer& t : p.overhead_transfers) {
    ordered_json e = ordered_json::object();
    e["calls"] = t.calls;
    e["bytes"] = t.bytes;
    e["seconds"] = t.seconds;
    live.push_back(std::move(e));
  }
  overhead["transfers"] = std::move(live);
  root["overhead"] = std::move(overhead);
  ordered_json its = ordered_json::array();
  for (const ProfileIteration& it : p.iterations) {
    ordered_json e = ordered_json::object();
    e["layout"] = to_string(it.layout);
    for (const ShapeKey& k : kShapeKeys) e[k.key] = it.shape.*k.field;
    e["times_s"] = times_json(it.times_s);
    e["median_s"] = it.median_s;
    its.push_back(std::move(e));
  }
  root["iterations"] = std::move(its);
  ordered_json trs = ordered_json::array();
  for (const ProfileTransfer& t : p.transfers) {
    ordered_json e = ordered_json::object();
    e["calls"] = t.calls;
    e["bytes"] = t.bytes;
    e["times_s"] = times_json(t.times_s);
    e["median_s"] = t.median_s;
    trs.push_back(std::move(e));
  }
  root["transfers"] = std::move(trs);
  return root;
}

CalibrationProfile parse_profile(const json& root, const std::string& source) {
  try {
    CalibrationProfile p = parse_body(root);
    p.source = source;
    return p;
  } catch (const Error& e) {
    if (e.kind() != ErrorKind::kInvalidInput) throw;
    throw_input_error(source + ": " + e.what());
  }
}

CalibrationProfile load_profile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw_input_error("calibration profile '" + path.string() + "' not found or not readable (write one with flowkv calibrate)");
  }
  std::stringstream text;
  text << in.rdbuf();
  json root;
  try {
    root = json::parse(text.str());
  } catch (const json::parse_error& e) {
    const std::string s = text.str();
    const size_t at = std::min(e.byte > 0 ? e.byte - 1 : 0, s.size());
    const int64_t line = 1 + std::count(s.begin(), s.begin() + static_cast<std::ptrdiff_t>(at), '\n');
    throw_input_error(path.string() + ":" + std::to_string(line) + ": not valid JSON (" + e.what() + ")");
  }
  return parse_profile(root, path.string());
}

void check_profile_fits(const CalibrationProfile& p, const ModelSpec& model, int32_t block_size, LayoutKind layout) {
  const ProfileModel want = profile_model_of(model);
  const std::string where = p.source.empty() ? "profile" : p.source;
  for (const ModelKey& k : kModelKeys) {
    if (p.model.*k.field != want.*k.field) {
      throw_input_error(where + ": model." + k.key + ": the profile was measured on " + p.model.name + " (" + k.key + " " +
                        std::to_string(p.model.*k.field) + ") but the scenario's model " + model.name + " has " +
                        std::to_string(want.*k.field) + "; calibrate this model (flowkv calibrate --model " + model.name + ")");
    }
  }
  if (p.block_size != block_size) {
    throw_input_error(where + ": settings.block_size: the profile was measured with blocks of " +
                      std::to_string(p.block_size) + " tokens but the scenario's kv.block_size is " +
                      std::to_string(block_size) + "; calibrate with the scenario (flowkv calibrate --scenario ...)");
  }
  int64_t count[kNumPhases] = {0, 0, 0};
  for (const ProfileIteration& it : p.iterations) {
    if (it.layout == layout) ++count[static_cast<int>(phase_of(it.shape))];
  }
  for (int ph = 0; ph < kNumPhases; ++ph) {
    if (count[ph] < kMinProfilePoints) {
      throw_input_error(where + ": iterations: " + std::to_string(count[ph]) + " " +
                        to_string(static_cast<IterationPhase>(ph)) + " points of the " + to_string(layout) +
                        " layout, at least " + std::to_string(kMinProfilePoints) +
                        " needed (calibrate with --layouts " + to_string(layout) + ")");
    }
  }
  if (static_cast<int64_t>(p.transfers.size()) < kMinProfilePoints) {
    throw_input_error(where + ": transfers: " + std::to_string(p.transfers.size()) + " points, at least " +
                      std::to_string(kMinProfilePoints) + " needed");
  }
}

}  // namespace flowkv::core
