// CalibratedModel: iteration and KV-transfer times fitted to a profile that `flowkv calibrate`
// measured on a real executor (core/spec/calibration_profile.h). The simulator uses it for
// `"cost_model": {"kind": "calibrated", "profile": FILE}`; `flowkv fidelity` uses it to price the
// iterations a live run recorded. docs/calibration.md explains the features and the fit.
//
// Per KV layout and per phase (prefill chunks only, decode steps only, mixed), the executor's
// run() time is a linear function of features of the iteration's totals (IterationShape),
// T = new tokens (prefill tokens + decode steps), B = decode steps, C = cached context read
// (prefill context + decode context):
//   prefill, mixed  1, T, relu(T - K), attention pairs, prefill items, C, relu(C - Kc)
//   decode          1, B, relu(B - K), C, relu(C - Kc)
// relu(T - K) lets the token slope change at a knee K (a GPU's GEMMs are flat below the batch
// that saturates them, then linear); relu(C - Kc) lets the cost of reading KV change once it no
// longer fits a cache. The knees are chosen per phase from fixed lists by the smallest training
// error. Coefficients are non-negative (Lawson-Hanson NNLS over Eigen's QR), minimising the
// squared *relative* error, so a 1 ms decode step counts as much as a 1 s prefill.
// A transfer costs c0 + c1 * calls + c2 * bytes (same fit). An iteration's time is the fitted
// run() time plus the live backend's per-iteration overhead: the median gap between iterations of
// a busy node in calibrate's short live run. A transfer's is its fit plus the median of (live
// transfer time - fit) over that run's transfers (0 when negative).
//
// Held-back points: in each (layout, phase) group, in profile order, every fifth point starting
// with the third is left out of the fit and its error reported (the first and last, usually the
// grid's extremes, are always fitted). The model used is the one fitted without them, so the
// reported error is the error of the model in use.
//
// Pure and deterministic: the same profile gives the same coefficients, bit for bit, and so
// byte-identical simulations. Immutable after construction; safe to share between threads.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/base/time.h"
#include "core/spec/calibration_profile.h"
#include "core/spec/scenario.h"
#include "core/work/work.h"

namespace flowkv::sim {

// Non-negative least squares: x >= 0 minimising |A x - b|^2 (Lawson-Hanson active set, columns
// scaled to unit norm first). Deterministic.
std::vector<double> nnls(const std::vector<std::vector<double>>& rows, const std::vector<double>& b);

// Errors of predictions against measurements, as |predicted - measured| / measured.
struct ErrorStats {
  int64_t count = 0;
  double mean_abs = 0;  // mean of |relative error|
  double max_abs = 0;
  double mean_signed = 0;  // mean of (predicted - measured) / measured: the bias
};
ErrorStats relative_errors(const std::vector<double>& predicted, const std::vector<double>& measured);

// Where the token (decode: step) slope and the context slope change.
struct Knees {
  int64_t tokens = 0;
  int64_t context = 0;
};

struct PhaseFit {
  core::LayoutKind layout = core::LayoutKind::kBlockContiguous;
  core::IterationPhase phase = core::IterationPhase::kPrefill;
  Knees knee;
  std::vector<double> coefficients;       // seconds per unit of each feature
  int64_t points = 0, held_back = 0;
  ErrorStats train, held;                 // of run() time
};

struct TransferFit {
  std::array<double, 3> coefficients{};   // s, s per call, s per byte
  int64_t points = 0, held_back = 0;
  ErrorStats train, held;
};

class CalibratedModel {
 public:
  // Fits every layout of `profile` that has points. The profile must pass
  // core::check_profile_fits for the layouts it is asked about (an internal error otherwise).
  explicit CalibratedModel(const core::CalibrationProfile& profile);

  // The executor's run() time alone, in seconds.
  double run_seconds(core::LayoutKind layout, const core::IterationShape& shape) const;
  // What the simulator charges: run() + the per-iteration overhead.
  core::Duration iteration_time(core::LayoutKind layout, const core::IterationShape& shape) const;
  // A transfer: the part that does not share a link (overhead + c0 + c1 * calls) and the link's
  // bandwidth, 1 / c2 (bytes/s; effectively infinite when c2 is 0).
  core::Duration transfer_latency(int64_t calls) const;
  double transfer_bytes_per_s() const;
  // The transfer's whole time when it runs alone (tests, fidelity).
  double transfer_seconds(int64_t calls, int64_t bytes) const;

  const std::vector<PhaseFit>& fits() const { return fits_; }
  const TransferFit& transfer_fit() const { return transfer_; }
  bool has_layout(core::LayoutKind layout) const;
  const core::CalibrationProfile& profile() const { return profile_; }
  double iteration_overhead_s() const { return iteration_overhead_s_; }
  double transfer_overhead_s() const { return transfer_overhead_s_; }
  // The held-back error over every iteration point held back (all layouts and phases).
  ErrorStats held_back_iterations() const { return held_all_; }

  // Coefficients and errors, for summary.json and fidelity.json (doubles rounded to 9 digits).
  nlohmann::ordered_json fit_json() const;
  // A table of the fit, one line per layout and phase, for the terminal.
  std::string fit_table() const;

  static const char* feature_name(core::IterationPhase phase, size_t i);
  static std::vector<double> features(core::IterationPhase phase, const core::IterationShape& s, Knees knee);

 private:
  const PhaseFit& fit_for(core::LayoutKind layout, core::IterationPhase phase) const;

  core::CalibrationProfile profile_;
  std::vector<PhaseFit> fits_;
  TransferFit transfer_;
  ErrorStats held_all_;
  double iteration_overhead_s_ = 0;
  double transfer_overhead_s_ = 0;
};

// The shape of a core::Iteration (what live's iterations.csv records for it).
core::IterationShape shape_of(const core::Iteration& it);

// The scenario's fitted model (nullptr for the roofline); fitted anew on every call.
std::shared_ptr<const CalibratedModel> calibrated_model_for(const core::Scenario& scenario);

}  // namespace flowkv::sim
