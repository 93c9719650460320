// The JSON form of a generator spec (see generator.h and docs/traces.md).
#include <nlohmann/json.hpp>
#include <string>

#include "core/base/error.h"
#include "traces/generator.h"
#include "traces/json_fields.h"

namespace flowkv::traces {
namespace {

using detail::json_fail;
using detail::json_integer;
using detail::json_positive;
using detail::member;
using nlohmann::json;

void parse_arrival(const json& j, const std::string& path, ArrivalSpec& a) {
  detail::check_object(j, path, {"process", "rate", "cv"});
  if (const json* p = member(j, "process")) {
    const std::string name = detail::json_string(*p, path + ".process");
    if (name == "poisson") {
      a.process = ArrivalProcess::kPoisson;
    } else if (name == "gamma") {
      a.process = ArrivalProcess::kGamma;
    } else if (name == "constant") {
      a.process = ArrivalProcess::kConstant;
    } else {
      json_fail(path + ".process", "one of \"poisson\", \"gamma\", \"constant\"", *p);
    }
  }
  if (const json* r = member(j, "rate")) a.rate_rps = json_positive(*r, path + ".rate");
  if (const json* cv = member(j, "cv")) {
    if (a.process != ArrivalProcess::kGamma) {
      core::throw_input_error(path +
                              ".cv: only the gamma process takes a coefficient of variation "
                              "(Poisson's is 1, constant's 0)");
    }
    a.cv = json_positive(*cv, path + ".cv");
  }
}

LengthSpec parse_length(const json& j, const std::string& path,
                        const std::filesystem::path& base_dir) {
  if (!j.is_object()) json_fail(path, "an object such as {\"dist\": \"fixed\", \"value\": 256}", j);
  const json* d = member(j, "dist");
  if (!d) core::throw_input_error(path + ".dist: missing (fixed, uniform, lognormal or empirical)");
  const std::string dist = detail::json_string(*d, path + ".dist");
  LengthSpec s;
  auto bounds = [&] {
    if (const json* v = member(j, "min")) s.min = json_integer(*v, path + ".min", 1);
    if (const json* v = member(j, "max")) s.max = json_integer(*v, path + ".max", 1);
    if (s.max < s.min)
      json_fail(path + ".max", "at least min (" + std::to_string(s.min) + ")", *member(j, "max"));
  };
  auto need = [&](const char* key) -> const json& {
    const json* v = member(j, key);
    if (!v) core::throw_input_error(path + "." + key + ": missing (required by \"" + dist + "\")");
    return *v;
  };
  if (dist == "fixed") {
    detail::check_object(j, path, {"dist", "value"});
    s.dist = LengthDist::kFixed;
    s.value = json_integer(need("value"), path + ".value", 1);
  } else if (dist == "uniform") {
    detail::check_object(j, path, {"dist", "min", "max"});
    s.dist = LengthDist::kUniform;
    need("min");
    need("max");
    bounds();
  } else if (dist == "lognormal") {
    detail::check_object(j, path, {"dist", "mean", "std", "min", "max"});
    s.dist = LengthDist::kLogNormal;
    s.mean = json_positive(need("mean"), path + ".mean");
    const json& sd = need("std");
    if (!sd.is_number() || !(sd.get<double>() >= 0.0))
      json_fail(path + ".std", "a non-negative number", sd);
    s.std = sd.get<double>();
    bounds();
  } else if (dist == "empirical") {
    detail::check_object(j, path, {"dist", "trace", "format", "min", "max"});
    s.dist = LengthDist::kEmpirical;
    s.trace = resolve_data_path(detail::json_string(need("trace"), path + ".trace"), base_dir,
                                path + ".trace");
    if (const json* f = member(j, "format")) {
      try {
        s.trace_format = parse_trace_format(detail::json_string(*f, path + ".format"));
      } catch (const core::Error& e) {
        core::throw_input_error(path + ".format: " + e.what());
      }
    }
    bounds();
  } else {
    json_fail(path + ".dist", "one of \"fixed\", \"uniform\", \"lognormal\", \"empirical\"", *d);
  }
  return s;
}

}  // namespace

GeneratorSpec parse_generator_spec(const json& j, const std::string& path,
                                   const std::filesystem::path& base_dir) {
  detail::check_object(
      j, path, {"preset", "rate", "requests", "arrival", "input", "output", "shared_prefix"});
  GeneratorSpec spec;
  if (const json* p = member(j, "preset")) {
    try {
      spec = preset_spec(detail::json_string(*p, path + ".preset"));
    } catch (const core::Error& e) {
      core::throw_input_error(path + ".preset: " + e.what());
    }
  } else {
    for (const char* key : {"input", "output"}) {
      if (!member(j, key)) {
        core::throw_input_error(path + "." + key +
                                ": missing (give \"input\" and \"output\" length "
                                "distributions, or a \"preset\")");
      }
    }
  }
  if (const json* a = member(j, "arrival")) parse_arrival(*a, path + ".arrival", spec.arrival);
  if (const json* r = member(j, "rate")) {
    const json* a = member(j, "arrival");
    if (a && a->is_object() && a->contains("rate")) {
      core::throw_input_error(path + ".rate: given twice (also as " + path + ".arrival.rate)");
    }
    spec.arrival.rate_rps = json_positive(*r, path + ".rate");
  }
  if (const json* n = member(j, "requests"))
    spec.requests = json_integer(*n, path + ".requests", 1);
  if (const json* in = member(j, "input"))
    spec.input = parse_length(*in, path + ".input", base_dir);
  if (const json* out = member(j, "output"))
    spec.output = parse_length(*out, path + ".output", base_dir);
  if (const json* sp = member(j, "shared_prefix")) {
    const std::string sp_path = path + ".shared_prefix";
    detail::check_object(*sp, sp_path, {"tokens", "fraction"});
    SharedPrefixSpec s;
    const json* tokens = member(*sp, "tokens");
    if (!tokens) core::throw_input_error(sp_path + ".tokens: missing");
    s.tokens = json_integer(*tokens, sp_path + ".tokens", 1);
    const json* fraction = member(*sp, "fraction");
    if (!fraction) core::throw_input_error(sp_path + ".fraction: missing");
    if (!fraction->is_number() ||
        !(fraction->get<double>() >= 0.0 && fraction->get<double>() <= 1.0)) {
      json_fail(sp_path + ".fraction", "a number in [0, 1]", *fraction);
    }
    s.fraction = fraction->get<double>();
    spec.shared_prefix = s;
  }
  validate_generator_spec(spec, path);
  return spec;
}

}  // namespace flowkv::traces
