// The one-line-per-run table that `flowkv compare` and `flowkv sweep` print (docs/scheduling.md).
#pragma once

#include <cstdio>
#include <string>

#include "core/results/metrics.h"

namespace flowkv::cli {

// Header lines; `label` heads the first column (e.g. "policy", "policy @ rate").
void print_result_header(std::FILE* out, const std::string& label);
void print_result_row(std::FILE* out, const std::string& label, const core::RunMetrics& m);

}  // namespace flowkv::cli
