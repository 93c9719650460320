// Fidelity: how close a simulation's prediction is to what a live run measured, for the same
// scenario and trace (`flowkv fidelity LIVE_DIR SIM_DIR`, `flowkv live --compare-sim`).
// Definitions (docs/calibration.md, "Fidelity"):
//
//   relative error  (simulated - measured) / measured, signed; "|error|" is its absolute value
//   per metric      TTFT, TPOT, E2E over the requests completed in both runs (matched by id):
//                   the mean, p50, p90 and p99 of each run, and the relative error of each
//                   statistic; ITL from the two summary.json files (pooled gaps, not per request)
//   per request     the relative error of each request's TTFT / TPOT / E2E: mean |error|,
//                   p50 and p90 of |error|, and the mean signed error (the bias)
//   per node        live's iterations.csv against the calibrated model's run() time of each
//                   iteration's composition: total busy time (sum predicted / sum measured - 1),
//                   per iteration mean |error|, p90 |error| and bias; measured = finished - started
//
// The simulation must replay the live run's arrivals: live's --time-scale X divides arrival
// times by X, so the simulation needs workload.rate_scale multiplied by X. A simulation whose
// arrivals are off by more than 5% (checked on the last matched request) is refused as an input
// error that says which --rate-scale to use. Reading is validated: a missing file or column is
// an input error naming the file (exit 2).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace flowkv::report {

// A CSV file with a header line: cells by column name. Validated on reading (every row has the
// header's number of fields).
struct CsvTable {
  std::string where;  // the file, for messages
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
  size_t column(const std::string& name) const;  // input error naming the file when missing
  // The cell as a number; NaN when empty; input error (file:line) when not a number.
  double number(size_t row, size_t col) const;
};
CsvTable read_csv(const std::filesystem::path& file);

struct FidelityStats {
  double mean = 0, p50 = 0, p90 = 0, p99 = 0;
};

struct MetricFidelity {
  std::string name;  // "ttft_s"
  FidelityStats live, sim, error;  // error: (sim - live) / live of each statistic
  bool per_request = false;  // ITL has no per-request values
  int64_t requests = 0;
  double mean_abs = 0, p50_abs = 0, p90_abs = 0, mean_signed = 0;  // per-request relative errors
};

struct NodeFidelity {
  std::string node;
  int64_t iterations = 0;
  double measured_s = 0, predicted_s = 0;  // summed run() time
  double total_error = 0;                  // predicted / measured - 1
  double mean_abs = 0, p90_abs = 0, mean_signed = 0;
  double dispatch_mean_s = 0;              // started - submitted
};

struct RequestPair {
  int64_t id = 0;
  double ttft_live = 0, ttft_sim = 0, tpot_live = 0, tpot_sim = 0, e2e_live = 0, e2e_sim = 0;  // NaN when absent
};

struct FidelityResult {
  std::string live_dir, sim_dir;
  double time_scale = 1, sim_rate_scale = 1;
  int64_t live_requests = 0, sim_requests = 0, matched = 0, completed_both = 0;
  double arrival_max_abs_diff_s = 0, arrival_mean_abs_diff_s = 0;
  std::vector<MetricFidelity> metrics;  // ttft_s, tpot_s, itl_s, e2e_s
  std::string profile;                  // "" when iteration times were not compared
  std::string layout;
  std::vector<NodeFidelity> nodes;
  std::vector<RequestPair> requests;    // completed in both, by id
  std::vector<std::string> notes;
};

struct FidelityOptions {
  // The calibration profile to price live's iterations with; empty: the simulation's own
  // (its summary.json's scenario.cost_model.profile), else the iteration comparison is skipped.
  std::filesystem::path profile;
};

FidelityResult compare_runs(const std::filesystem::path& live_dir, const std::filesystem::path& sim_dir,
                            const FidelityOptions& options = {});

nlohmann::ordered_json fidelity_json(const FidelityResult& result);
// fidelity_requests.csv: id, then live and simulated TTFT, TPOT and E2E (seconds, 9 decimals).
std::string fidelity_requests_csv(const FidelityResult& result);
// The terminal table.
std::string fidelity_table(const FidelityResult& result);

// Reading fidelity.json and fidelity_requests.csv back (for the report).
FidelityResult read_fidelity(const std::filesystem::path& dir);

}  // namespace flowkv::report
