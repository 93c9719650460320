// The files every run writes (simulated or live), so that both backends produce the same
// formats (docs/simulator.md, "Outputs"):
//   summary.json   metrics + the resolved scenario; no wall-clock figure, so the same inputs
//                  give a byte-identical file (doubles rounded to 9 significant digits)
//   requests.csv   one row per request with its milestones
//   run.json       how the run went: wall time, events, peak memory (differs run to run)
// OutputDir writes each file under a temporary name and renames them all at commit(), so an
// error part-way leaves no half-written result (the temporaries are removed).
#pragma once

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <ostream>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/results/metrics.h"
#include "core/spec/scenario.h"
#include "core/work/request_record.h"

namespace flowkv::core {

// v rounded to 9 significant digits (what summary.json prints; stable and readable).
double round9(double v);

nlohmann::ordered_json summary_json(const RunMetrics& metrics, const Scenario& scenario);

// Header line and one row per request that arrived, in id order; times in seconds since the
// first arrival with 9 decimals (exact nanoseconds), empty when a milestone was not reached.
void write_requests_csv(std::ostream& out, std::span<const RequestRecord> records, const Scenario& scenario);
extern const char* const kRequestsCsvHeader;

struct RunInfo {
  std::string backend;    // "sim" or "live"
  double wall_s = 0;
  int64_t events = 0;
  int64_t requests = 0;
  int64_t peak_rss_bytes = 0;
};
nlohmann::ordered_json run_json(const RunInfo& info);

// Peak resident set size of this process so far, in bytes (0 where unknown).
int64_t peak_rss_bytes();

class OutputDir {
 public:
  explicit OutputDir(std::filesystem::path dir);
  ~OutputDir();
  OutputDir(const OutputDir&) = delete;
  OutputDir& operator=(const OutputDir&) = delete;

  // A stream to the temporary for `name`; throws a runtime error when it cannot be created.
  std::ostream& open(const std::string& name);
  // Closes every stream (checking for write errors) and renames the temporaries into place.
  void commit();
  const std::filesystem::path& dir() const { return dir_; }

 private:
  struct File {
    std::string name;
    std::filesystem::path temp;
    std::unique_ptr<std::ofstream> stream;
  };
  std::filesystem::path dir_;
  std::vector<File> files_;
  bool committed_ = false;
};

}  // namespace flowkv::core
