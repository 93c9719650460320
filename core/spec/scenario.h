// Scenario: everything a run needs besides the requests themselves, read from JSON.
//
//   {"name", "description", "cluster": {"nodes": [...], "link": ...}, "model", "kv": {...},
//    "workload": {...}, "policies": {"global", "batch", "role"}, "slo": {...}, "seed",
//    "cost_model": {...}}
//
// docs/simulator.md documents every key. Parsing validates everything once, where it enters:
// an unknown key, a wrong type, an unknown GPU, link, model or policy name, or a node whose
// weights do not fit its memory is an input error (exit 2) naming the JSON path, e.g.
//   cluster.nodes[1].gpu: unknown GPU 'X': expected one of A100-80G, H100-SXM, ...
// The workload object is kept as JSON: traces::load_workload() resolves it (and validates it)
// when the run starts. Overrides (`--set a.b[0].c=value` and the CLI's shorthand flags) edit the
// JSON before validation, so they get the same checks and error paths.
//
// A parsed Scenario is immutable and safe to share between threads.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/base/time.h"
#include "core/kv/block_allocator.h"
#include "core/kv/kv_layout.h"
#include "core/kv/transfer_plan.h"
#include "core/spec/calibration_profile.h"
#include "core/spec/fault_spec.h"
#include "core/spec/hardware_spec.h"
#include "core/spec/model_spec.h"
#include "core/spec/node_role.h"

namespace flowkv::core {

// One node of the cluster, resolved: its GPU, role and KV pool. A node is one serving instance:
// data_parallel_attention attention replicas of tensor_parallel GPUs each, the routed experts
// spread over all of them when expert_parallel > 1 (docs/simulator.md, "Parallelism").
struct NodeSpec {
  std::string name;            // "P0", "D1", "C0": role letter and index within the role
  NodeRole role = NodeRole::kColocated;
  bool standby = false;        // not routable until a role controller lets it join
  GpuSpec gpu;                 // one GPU's figures; the node has gpus() of them
  int32_t tensor_parallel = 1; // GPUs of one attention replica (attention and dense layers split TP ways)
  int32_t data_parallel_attention = 1;  // attention replicas, each with its own requests' KV
  int32_t expert_parallel = 1; // GPUs the routed experts are spread over: 1 (split TP ways) or gpus()
  LinkSpec interconnect;       // between the node's GPUs: carries the expert-parallel all-to-all
  double kv_replication = 1;   // copies of a token's KV the TP ranks keep: > 1 when TP exceeds the
                               // KV heads (MLA's one latent: TP copies)
  KvLayout layout;             // geometry.num_blocks = the node's pool size
  std::string json_path;       // "cluster.nodes[1]", for messages
  int32_t gpus() const { return tensor_parallel * data_parallel_attention; }
};

// Where a node runs in a live run launched over several processes (mpirun / srun; docs/live.md,
// "Across processes and hosts"): its MPI rank and, on GPUs, its device. The simulator ignores it.
struct NodePlacement {
  int32_t rank = 0;
  int32_t device = -1;  // -1: the rank's own (its local rank among the ranks that host nodes)
};

struct SloSpec {
  double ttft_s = 0;  // a request meets the SLO when TTFT <= ttft_s ...
  double tpot_s = 0;  // ... and TPOT <= tpot_s (single-token requests: TTFT only)
};

// How the simulator prices an iteration: the roofline of the nodes' GPUs (sim/cost_model.h, the
// default) or a model fitted to a profile that `flowkv calibrate` measured on a real executor
// (sim/calibrated_model.h).
enum class CostModelKind : uint8_t { kRoofline, kCalibrated };
const char* to_string(CostModelKind kind);

// Factors of the simulator's cost models (sim/cost_model.h); the live runtime ignores them.
struct CostModelSpec {
  CostModelKind kind = CostModelKind::kRoofline;
  // kind calibrated: cost_model.profile, resolved against the scenario's folder, read and checked
  // against the model and block size when the scenario is read (an input error otherwise). The
  // roofline's efficiencies and iteration_overhead_us are then unused.
  std::filesystem::path profile_path;
  std::shared_ptr<const CalibrationProfile> profile;
  double compute_efficiency = 0.55;  // achieved / peak FLOP/s for the matmuls and attention
  double memory_efficiency = 0.80;   // achieved / peak HBM bytes/s
  double tp_efficiency = 0.90;       // tensor-parallel scaling per extra GPU (1 = perfect)
  Duration iteration_overhead = Duration::micros(1500);  // scheduling, launch, sampling
  Duration role_flip = Duration::millis(50);              // cost of a node changing role
  Duration node_startup = Duration::seconds(30);          // a standby node joining (loading weights)
  bool ep_overlap = false;  // the expert-parallel all-to-all hides behind compute (two micro-batches)
};

struct PolicySpec {
  std::string name;
  nlohmann::json params = nlohmann::json::object();  // the policy validates its own
  std::string json_path;                             // "policies.global", for its errors
};

struct Scenario {
  std::string name;
  std::string description;
  std::filesystem::path base_dir;  // relative paths in the scenario resolve against it
  std::vector<NodeSpec> nodes;
  LinkSpec link;                   // between every prefill and decode node
  ModelSpec model;
  int32_t block_size = 16;
  LayoutKind layout = LayoutKind::kBlockContiguous;
  AllocatorKind allocator = AllocatorKind::kSegment;
  TransferMode transfer = TransferMode::kMerged;
  double memory_fraction = 0.9;
  int64_t num_blocks = 0;          // kv.num_blocks: a fixed pool size per node (0: from memory)
  int64_t prefix_cache_blocks = 0; // kv.prefix_cache: 0 none, -1 pool-sized, else 512-token blocks
  nlohmann::json workload;         // as given; see traces::load_workload
  PolicySpec global;
  PolicySpec batch;
  PolicySpec role;
  PolicySpec recovery;             // core/sched/recovery.h
  SloSpec slo;
  uint64_t seed = 1;
  CostModelSpec cost;
  int32_t max_retries = 3;         // failed transfers / iterations retried per request
  std::vector<FaultSpec> faults;   // injected by the simulator, sorted by start time
  // One per node when the scenario has "placement"; empty: the default placement (one node per
  // rank). Ranks past the world size are refused when the live run starts.
  std::vector<NodePlacement> placement;
  // Config keys the scenario accepts although FlowKV does not model them ("accept_unmodelled").
  ModelReadOptions accept;
  // What the results should say about the run's fidelity (accepted unmodelled keys): summary.json's
  // "warnings".
  std::vector<std::string> warnings;
  // Every node's KV shape but its size (num_blocks 0).
  KvGeometry kv_shape;

  // Blocks a request of `tokens` tokens holds on any node (kv_shape.blocks_for_tokens).
  int64_t blocks_for_tokens(int64_t tokens) const { return kv_shape.blocks_for_tokens(tokens); }

  // The scenario with every default filled in, keys in a fixed order (what summary.json shows).
  nlohmann::ordered_json resolved;
};

// The shorthand flags of `flowkv simulate` (and compare / sweep), applied to the JSON in this
// order, then every `--set` in the order given.
struct ScenarioOverrides {
  std::optional<std::string> trace;         // replaces the workload's trace (and any generator)
  std::optional<std::string> trace_format;
  std::optional<std::string> model;
  std::optional<std::string> gpu;           // every node group
  std::optional<int64_t> prefill_nodes;     // replaces the prefill groups by one of N nodes
  std::optional<int64_t> decode_nodes;
  std::optional<int64_t> colocated_nodes;
  std::optional<std::string> policy;        // policies.global
  std::optional<double> rate_scale;         // workload.rate_scale
  std::optional<uint64_t> seed;
  std::vector<std::string> sets;            // "json.path=value"
  std::vector<std::string> faults;          // --fault texts, appended to "faults" after the sets
  std::optional<std::string> accept_unmodelled;  // "key,key" or "all": accept_unmodelled
};

// Reads a scenario file as JSON (syntax errors name the file and line).
nlohmann::json read_scenario_json(const std::filesystem::path& path);

// `assignment` is "a.b[2].c=value"; value is parsed as JSON when it is valid JSON, else taken as
// a string. Missing objects on the way are created; an index past the end is an error.
void apply_set(nlohmann::json& root, const std::string& assignment);

// The two halves of core::apply_overrides (core/sched/load_scenario.h), which applies the global
// policy's profile between them: the shorthand flags then every --set, and the --fault texts.
void apply_flag_overrides(nlohmann::json& root, const ScenarioOverrides& overrides);
void append_fault_overrides(nlohmann::json& root, const ScenarioOverrides& overrides);

// Validates and resolves everything but the policies' own parameters (which only the policies
// know: core::parse_scenario in core/sched/load_scenario.h builds each one to check them).
// `source` names the scenario in errors that are not about one key.
Scenario parse_scenario_spec(const nlohmann::json& root, const std::string& source,
                             const std::filesystem::path& base_dir);

// A relative path that does not exist is also tried under the repository's scenarios/ folder,
// so "default.json" or "default" works from anywhere.
std::filesystem::path find_scenario_file(const std::filesystem::path& path);

}  // namespace flowkv::core
