// CalibrationProfile: raw timings of a real executor and transport, what `flowkv calibrate`
// writes (runtime/calib/calibrate.h) and the simulator's calibrated cost model fits
// (sim/calibrated_model.h). The JSON format is documented once, in docs/calibration.md:
//
//   {"format": "flowkv-profile", "version": 1, "command", "device", "versions": {...},
//    "model": {"name", "num_layers", ...}, "settings": {"block_size", "threads", ...},
//    "overhead": {"iteration_gaps_s": [...], "transfers": [{"calls", "bytes", "seconds"}], ...},
//    "iterations": [{"layout", "prefill_items", "prefill_tokens", "prefill_context",
//                    "attention_pairs", "decode_items", "decode_context", "times_s", "median_s"}],
//    "transfers": [{"calls", "bytes", "times_s", "median_s"}]}
//
// An iteration point is described by the same six aggregates as a live run's iterations.csv
// (runtime/live/live_run.h), so the fit, the simulator and `flowkv fidelity` all price an
// iteration from one description. Reading validates every key once, where the file enters: a
// missing file, bad JSON, a missing or mistyped key, or a profile of another model is an input
// error (exit 2) that names the file and the key. Plain data; safe to share between threads.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/kv/kv_layout.h"
#include "core/spec/model_spec.h"

namespace flowkv::core {

// What an iteration computes, in totals over its items (the columns of iterations.csv).
struct IterationShape {
  int64_t prefill_items = 0;
  int64_t prefill_tokens = 0;   // new tokens of the prefill chunks
  int64_t prefill_context = 0;  // tokens the chunks' requests held before them (cached KV read)
  int64_t attention_pairs = 0;  // (query, key) pairs of the chunks: c * p + c * (c + 1) / 2 each
  int64_t decode_items = 0;
  int64_t decode_context = 0;   // sum of the decode items' contexts (KV read by the steps)
};

// Prefill chunks only, decode steps only, or both in one iteration (chunked prefill).
enum class IterationPhase : uint8_t { kPrefill = 0, kDecode = 1, kMixed = 2 };
inline constexpr int kNumPhases = 3;
const char* to_string(IterationPhase phase);
IterationPhase phase_of(const IterationShape& shape);

struct ProfileIteration {
  LayoutKind layout = LayoutKind::kBlockContiguous;
  IterationShape shape;
  std::vector<double> times_s;  // every timed repeat, in order
  double median_s = 0;          // what the fit uses
};

struct ProfileTransfer {
  int64_t calls = 0;  // transport calls (copies)
  int64_t bytes = 0;  // in all
  std::vector<double> times_s;
  double median_s = 0;
};

// A KV transfer of the overhead probe's live run, as the controller saw it (submit to completion).
struct ProfileLiveTransfer {
  int64_t calls = 0, bytes = 0;
  double seconds = 0;
};

// The shape of the model the timings were taken on; checked against the scenario's model.
struct ProfileModel {
  std::string name;
  int32_t num_layers = 0, hidden_size = 0, num_heads = 0, num_kv_heads = 0, head_dim = 0;
  int32_t intermediate_size = 0, vocab_size = 0, dtype_bytes = 0;
};
ProfileModel profile_model_of(const ModelSpec& model);

struct CalibrationProfile {
  std::string source;  // the file it was read from, for messages ("" when built in memory)
  std::string command;
  std::string device;  // Device::name(), e.g. "cpu (1 thread per node)"
  ProfileModel model;
  int32_t block_size = 16;
  // What a live iteration (or transfer) costs beyond the executor's run() (or the transport's
  // calls): building its inputs, the hand-offs to the node's worker and back to the controller,
  // the controller's own work on it. Raw measurements of calibrate's short live run
  // (docs/calibration.md); the calibrated model derives its overheads from them.
  std::vector<double> overhead_gaps_s;  // a busy node: next iteration's start - this one's end
  std::vector<ProfileLiveTransfer> overhead_transfers;
  std::vector<ProfileIteration> iterations;
  std::vector<ProfileTransfer> transfers;
  // Everything else the file holds (versions, settings, how the overhead was measured), kept as
  // written so that a profile written back is the same.
  nlohmann::ordered_json versions = nlohmann::ordered_json::object();
  nlohmann::ordered_json settings = nlohmann::ordered_json::object();
  nlohmann::ordered_json overhead_detail = nlohmann::ordered_json::object();
};

nlohmann::ordered_json profile_to_json(const CalibrationProfile& profile);
// `source` names the file in messages: "profile.json: iterations[3].median_s: expected ...".
CalibrationProfile parse_profile(const nlohmann::json& root, const std::string& source);
CalibrationProfile load_profile(const std::filesystem::path& path);

// The fewest points of one layout and phase (and the fewest transfer points) a profile must
// hold: enough to fit the calibrated model's features and hold a fifth back.
inline constexpr int kMinProfilePoints = 10;

// An input error naming the profile and `model.<key>` when the profile was measured on another
// model, `settings.block_size` on another block size, or `iterations` / `transfers` when it has
// too few points of `layout` in a phase (kMinProfilePoints) or too few transfers.
void check_profile_fits(const CalibrationProfile& profile, const ModelSpec& model, int32_t block_size,
                        LayoutKind layout);

// The median of `v` (the mean of the two middle values for an even count); 0 when empty.
double median_of(std::vector<double> v);

}  // namespace flowkv::core
