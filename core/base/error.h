// The project's one error type.
//
// Every failure that reaches the user is a flowkv::core::Error. Its kind decides the exit code
// of the command line: bad input (a malformed trace row, an unknown model, a bad flag, an
// impossible scenario) exits 2; everything else (a CUDA or NCCL failure, an internal invariant)
// exits 1. Validation happens once, where the input enters, and the message names the file,
// line or JSON path and what was expected.
#pragma once

#include <stdexcept>
#include <string>

namespace flowkv::core {

enum class ErrorKind {
  kInvalidInput,  // the user's input is wrong: exit code 2
  kUnsupported,   // asked for something this build or machine cannot do: exit code 2
  kRuntime,       // a device, library or system call failed: exit code 1
  kInternal,      // a broken invariant of ours: exit code 1
};

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}
  ErrorKind kind() const { return kind_; }
  int exit_code() const {
    return kind_ == ErrorKind::kInvalidInput || kind_ == ErrorKind::kUnsupported ? 2 : 1;
  }

 private:
  ErrorKind kind_;
};

[[noreturn]] inline void throw_input_error(const std::string& message) {
  throw Error(ErrorKind::kInvalidInput, message);
}

// Internal invariant check; cheap enough for hot paths.
#define FLOWKV_CHECK(cond, msg)                                                          \
  do {                                                                                   \
    if (!(cond)) {                                                                       \
      throw ::flowkv::core::Error(::flowkv::core::ErrorKind::kInternal,                  \
                                  std::string(__FILE__) + ":" + std::to_string(__LINE__) + \
                                      ": check failed: " #cond ": " + (msg));            \
    }                                                                                    \
  } while (0)

}  // namespace flowkv::core
