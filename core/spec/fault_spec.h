// FaultSpec: a failure injected into a run at a given time (docs/reliability.md).
//
// The scenario's "faults" list, and `--fault node=N,at=T[,for=D][,kind=K][,factor=F]` on the
// command line (each flag appends one entry), describe what fails and when:
//   {"node": 2 | "D0", "at_s": 1.5, "for_s": 3.0, "kind": "crash" | "link-slow" | "link-down",
//    "factor": 0.25}
//   node    the node's index in the expanded cluster (0-based, in the order of cluster.nodes)
//           or its name (P0, D1, C0, ...)
//   at_s    when it starts, in seconds since the first arrival
//   for_s   how long it lasts; absent: until the end of the run
//   kind    crash (default): the node stops and loses its KV, unroutable until it recovers;
//           link-slow: transfers from or to the node run at factor x the link bandwidth;
//           link-down: every transfer from or to the node fails
//   factor  link-slow only, in [1e-6, 1]
// The simulator (sim::SimBackend) injects them; the controller only sees their effects (a
// kNodeDown/kNodeUp, failed work) and recovers through the scenario's recovery policy
// (core/sched/recovery.h). Parsing validates everything once, with errors naming the JSON path (or
// the --fault flag) and what was expected. Plain values; thread-safe to share.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/base/ids.h"
#include "core/base/time.h"

namespace flowkv::core {

enum class FaultKind : uint8_t { kCrash, kLinkSlow, kLinkDown };
const char* to_string(FaultKind kind);

struct FaultSpec {
  NodeId node{};
  FaultKind kind = FaultKind::kCrash;
  Time at;
  std::optional<Duration> duration;  // none: until the end of the run
  double factor = 1.0;               // link-slow: bandwidth multiplier in [1e-6, 1]
};

// Validates `faults` (a JSON array) against the cluster's node names (index = NodeId) and
// returns the faults sorted by start time (stable). `resolved` receives the normalised list.
std::vector<FaultSpec> parse_faults(const nlohmann::json& faults, const std::vector<std::string>& node_names,
                                    nlohmann::ordered_json& resolved);

// "node=N,at=T[,for=D][,kind=K][,factor=F]" -> the scenario's JSON form of one fault. The
// object also carries the flag's text under kFaultFlagKey, so that errors found later (an
// unknown node) name the flag the user typed rather than a JSON path they never wrote.
nlohmann::json fault_flag_to_json(const std::string& text);
inline constexpr const char* kFaultFlagKey = "--fault";

}  // namespace flowkv::core
