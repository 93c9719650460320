// The HTML report of `flowkv report`: one self-contained page (inline CSS and SVG, no script,
// nothing fetched from the network) that compares runs side by side.
//
// Sections, in order: the inputs and notes, the summary table, latency CDFs (TTFT, TPOT, E2E),
// load (a sweep's throughput, goodput, SLO attainment and p90 latencies against the offered
// rate), nodes (utilisation and KV usage per node, KV usage over time when a timeline is
// present), KV transfers (time against prompt length), and per-run details (node table,
// scenario). A figure that cannot be drawn from the inputs is replaced by a note saying what is
// missing and which command produces it; docs/report.md describes each figure.
//
// Deterministic: the same inputs give a byte-identical page (no date, no absolute time).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "tools/report/results.h"

namespace flowkv::report {

struct ReportOptions {
  std::string title = "FlowKV report";
  std::vector<std::string> inputs;  // the folders as the user named them, listed in the header
};

std::string build_report_html(const ReportInput& input, const ReportOptions& options);

// Writes `content` to a temporary file beside `path`, then renames it into place, so that a
// failure never leaves a half-written file. Throws core::Error (exit 1) on an I/O error.
void write_file_atomically(const std::filesystem::path& path, const std::string& content);

}  // namespace flowkv::report
