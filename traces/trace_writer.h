// Writing traces: FlowKV's native format, and Vidur CSV or Mooncake JSONL for other tools.
//
// The native format (docs/traces.md, "Native format") is a CSV that holds everything a Request
// carries, so native -> read -> native is byte-identical:
//
//   # flowkv-trace v1
//   arrival_ns,prompt_tokens,output_tokens,slo_class,prefix_hashes
//   0,374,44,0,
//   4314579000,396,109,0,11400714819323198485 2393706541938917341
//
// write_trace_file() writes to a temporary file beside the target and renames it into place, so
// a failure leaves no half-written file. Errors are core::Error (kInvalidInput for an output
// format that cannot be written, kRuntime for I/O failures).
#pragma once

#include <filesystem>
#include <iosfwd>
#include <string>

#include "traces/trace.h"

namespace flowkv::traces {

inline constexpr const char* kNativeMagic = "# flowkv-trace v1";

// kNative, kVidur and kMooncake can be written; any other format is an input error.
void write_trace(std::ostream& out, const Trace& trace, TraceFormat format);
std::string format_trace(const Trace& trace, TraceFormat format);
void write_trace_file(const std::filesystem::path& path, const Trace& trace, TraceFormat format);

// Writes `contents` to `path` through a temporary file in the same folder and a rename.
void write_file_atomically(const std::filesystem::path& path, const std::string& contents);

}  // namespace flowkv::traces
