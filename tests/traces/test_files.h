// Helpers shared by the trace tests: where the real traces are, temporary files, and checking
// that a call fails with an input error carrying a given message.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <string>

#include "core/base/error.h"
#include "tests/scratch.h"

namespace flowkv::traces::testing {

// The real trace `name`: ../shared/traces (CI has it) first, then the copy shipped in
// traces/data; empty when neither exists.
inline std::filesystem::path real_trace(const std::string& name) {
  const std::filesystem::path shared =
      std::filesystem::path(FLOWKV_SOURCE_DIR) / ".." / "shared" / "traces" / name;
  if (std::filesystem::exists(shared)) return shared;
  const std::filesystem::path shipped =
      std::filesystem::path(FLOWKV_SOURCE_DIR) / "traces" / "data" / name;
  if (std::filesystem::exists(shipped)) return shipped;
  return {};
}

// Temporary folders and reading files back: tests/scratch.h.
using flowkv::testing::read_file;
using flowkv::testing::TempDir;

// The message of the core::Error `fn` throws; fails the test if it throws nothing, another
// exception, or an error that is not bad input (exit code 2).
inline std::string input_error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const core::Error& e) {
    EXPECT_EQ(e.exit_code(), 2) << e.what();
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected core::Error, got another exception: " << e.what();
    return {};
  }
  ADD_FAILURE() << "expected an input error, nothing was thrown";
  return {};
}

}  // namespace flowkv::traces::testing
