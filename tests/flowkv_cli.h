// Running the built `flowkv` binary from a test as a user would, and reading back what it wrote.
// Shared by the CLI tests (tests/cli/, tests/report/report_cli_test.cc): one place that knows how
// to spawn the binary and decode its exit status.
#pragma once

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "tests/scratch.h"

namespace flowkv::testing {

enum class Stderr { kMerged, kDropped };

struct CliResult {
  int exit_code = -1;  // -1: did not exit normally, or the binary is missing
  std::string out;     // stdout, and stderr too when merged
};

// A shell command line, its stdout (and stderr when merged) and exit status.
inline CliResult run_shell(const std::string& line, Stderr err = Stderr::kMerged) {
  CliResult r;
  const std::string command = line + (err == Stderr::kMerged ? " 2>&1" : " 2>/dev/null");
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) {
    ADD_FAILURE() << "cannot run " << command;
    return r;
  }
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) r.out.append(buffer, n);
  const int status = pclose(pipe);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

inline std::filesystem::path flowkv_binary() { return std::filesystem::path(FLOWKV_BINARY_DIR) / "flowkv"; }

// `FLOWKV_BINARY_DIR/flowkv ARGS` through the shell (ARGS may quote and redirect).
inline CliResult run_flowkv(const std::string& args, Stderr err = Stderr::kMerged) {
  const std::filesystem::path bin = flowkv_binary();
  if (!std::filesystem::exists(bin)) {
    ADD_FAILURE() << bin << " is missing: build the flowkv target first";
    return CliResult{};
  }
  return run_shell(bin.string() + " " + args, err);
}

}  // namespace flowkv::testing
