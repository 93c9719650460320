// The planner's search space: GPU prices, the grid of families and shapes, a shape's scenario,
// and the words for them.
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "core/base/error.h"
#include "core/spec/hardware_spec.h"
#include "sim/compare.h"
#include "sim/plan_internal.h"

namespace flowkv::sim {

using nlohmann::json;
using namespace plan_internal;

std::vector<GpuPrice> parse_gpu_prices(const std::string& text, const std::string& flag) {
  std::vector<GpuPrice> out;
  for (const std::string& item : split_list(text, flag)) {
    const size_t colon = item.rfind(':');
    if (colon == std::string::npos || colon == 0) {
      core::throw_input_error(flag + ": '" + item + "': expected GPU:PRICE (a price per GPU-hour, e.g. H100-SXM:2.99)");
    }
    const std::string name = item.substr(0, colon), price = item.substr(colon + 1);
    char* end = nullptr;
    const double v = std::strtod(price.c_str(), &end);
    if (price.empty() || end != price.c_str() + price.size() || !(v > 0) || v > 1e6) {
      core::throw_input_error(flag + ": '" + item + "': expected a positive price per GPU-hour after ':', got '" +
                              price + "'");
    }
    GpuPrice g;
    try {
      g.name = core::find_gpu(name).name;
    } catch (const core::Error& e) {
      core::throw_input_error(flag + ": " + e.what());
    }
    for (const GpuPrice& o : out) {
      if (o.name == g.name) core::throw_input_error(flag + ": " + g.name + " is listed twice");
    }
    g.micros_per_hour = std::llround(v * 1e6);
    out.push_back(g);
  }
  return out;
}

const char* to_string(CandidateStatus status) {
  switch (status) {
    case CandidateStatus::kUndecided: return "undecided";
    case CandidateStatus::kBest: return "best";
    case CandidateStatus::kFeasible: return "feasible";
    case CandidateStatus::kRejected: return "rejected";
    case CandidateStatus::kStopped: return "stopped";
    case CandidateStatus::kUnfit: return "unfit";
    case CandidateStatus::kDominated: return "dominated";
    case CandidateStatus::kCostlier: return "costlier";
  }
  return "?";
}

std::string cost_text(int64_t micros) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "$%.2f/h", static_cast<double>(micros) / 1e6);
  return buf;
}

std::string shape_text(const Candidate& c) {
  auto role = [](const RoleShape& r, const char* letter) {
    std::string t = std::to_string(r.count) + letter + " " + r.gpu;
    if (r.tp > 1) t += " x TP" + std::to_string(r.tp);
    return t;
  };
  if (c.colocated) return role(c.colocated_nodes, "C");
  return role(c.prefill, "P") + " + " + role(c.decode, "D");
}

namespace plan_internal {

Shape shape_of(const Candidate& c) {
  return c.colocated ? Shape{1, c.colocated_nodes.count} : Shape{c.prefill.count, c.decode.count};
}

Grid make_grid(const std::vector<std::string>& policies, const std::vector<bool>& colocated,
               const std::vector<GpuPrice>& gpus, const std::vector<int>& tps, int max_gpus) {
  Grid g;
  auto add_family = [&](Family f) {
    const size_t fi = g.families.size();
    const int max_p = f.colocated ? 1 : (max_gpus - f.tp_d) / f.tp_p;
    f.index.assign(static_cast<size_t>(std::max(max_p, 0)) + 1, {});
    for (int p = 1; p <= max_p; ++p) {
      const int max_d = f.colocated ? max_gpus / f.tp_d : (max_gpus - p * f.tp_p) / f.tp_d;
      f.index[p].assign(static_cast<size_t>(std::max(max_d, 0)) + 1, -1);
      for (int d = 1; d <= max_d; ++d) {
        Candidate c;
        c.id = g.candidates.size();
        c.family = fi;
        c.policy = f.policy;
        c.colocated = f.colocated;
        if (f.colocated) {
          c.colocated_nodes = RoleShape{f.gpu_d.name, f.tp_d, d};
          c.gpus = d * f.tp_d;
          c.cost_micros = d * f.tp_d * f.gpu_d.micros_per_hour;
        } else {
          c.prefill = RoleShape{f.gpu_p.name, f.tp_p, p};
          c.decode = RoleShape{f.gpu_d.name, f.tp_d, d};
          c.gpus = p * f.tp_p + d * f.tp_d;
          c.cost_micros = p * f.tp_p * f.gpu_p.micros_per_hour + d * f.tp_d * f.gpu_d.micros_per_hour;
        }
        f.index[p][d] = static_cast<int>(c.id);
        g.candidates.push_back(std::move(c));
      }
    }
    g.families.push_back(std::move(f));
  };
  for (size_t k = 0; k < policies.size(); ++k) {
    if (colocated[k]) {
      for (const GpuPrice& gpu : gpus) {
        for (int tp : tps) {
          Family f;
          f.policy = policies[k];
          f.colocated = true;
          f.gpu_d = gpu;
          f.tp_d = tp;
          add_family(std::move(f));
        }
      }
      continue;
    }
    for (const GpuPrice& gp : gpus) {
      for (int tp_p : tps) {
        for (const GpuPrice& gd : gpus) {
          for (int tp_d : tps) {
            Family f;
            f.policy = policies[k];
            f.gpu_p = gp;
            f.tp_p = tp_p;
            f.gpu_d = gd;
            f.tp_d = tp_d;
            add_family(std::move(f));
          }
        }
      }
    }
  }
  return g;
}

FamilySearch make_search(const Family& f, const std::vector<Candidate>& candidates) {
  const int max_p = static_cast<int>(f.index.size()) - 1;
  std::vector<int> max_d(f.index.size(), 0);
  std::vector<std::vector<int64_t>> cost(f.index.size());
  for (int p = 1; p <= max_p; ++p) {
    max_d[p] = static_cast<int>(f.index[p].size()) - 1;
    cost[p].assign(f.index[p].size(), 0);
    for (int d = 1; d <= max_d[p]; ++d) cost[p][d] = candidates[static_cast<size_t>(f.index[p][d])].cost_micros;
  }
  return FamilySearch(max_p, std::move(max_d), std::move(cost));
}

json candidate_json(const json& base, const Family& f, Shape s) {
  json j = base;
  auto group = [](const GpuPrice& gpu, int tp, int count, const char* role) {
    json g = json::object();
    g["gpu"] = gpu.name;
    g["count"] = count;
    g["role"] = role;
    if (tp > 1) g["tensor_parallel"] = tp;
    return g;
  };
  json nodes = json::array();
  if (f.colocated) {
    nodes.push_back(group(f.gpu_d, f.tp_d, s.d, "colocated"));
  } else {
    nodes.push_back(group(f.gpu_p, f.tp_p, s.p, "prefill"));
    nodes.push_back(group(f.gpu_d, f.tp_d, s.d, "decode"));
  }
  if (!j["cluster"].is_object()) j["cluster"] = json::object();
  j["cluster"]["nodes"] = std::move(nodes);
  if (!j["policies"].is_object()) j["policies"] = json::object();
  j["policies"]["global"] = f.policy;
  return j;
}

}  // namespace plan_internal
}  // namespace flowkv::sim
