// Trace reading speed: rows parsed per second for every format, on one core.
//
// Writes a large synthetic file per format into a temporary folder (2M rows for the CSV
// formats, 1M for JSONL and 250k Mooncake rows with 20 hash ids each), then times read_trace()
// end to end: reading the file, parsing, validating, sorting where the format needs it,
// re-zeroing. Best of N runs. Prints a table; --json FILE also writes the figures as JSON.
// Goal (docs/traces.md): >= 2 million rows/s for the CSV formats.
//
//   trace_read_bench [--rows N] [--repeats R] [--json FILE]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "traces/random.h"
#include "traces/trace.h"

namespace {

namespace fs = std::filesystem;
using flowkv::traces::Rng;
using flowkv::traces::TraceFormat;

struct Case {
  const char* name;
  TraceFormat format;
  int64_t rows;
  fs::path file;
};

void append(std::string& s, const char* fmt, auto... args) {
  char buf[512];
  const int n = std::snprintf(buf, sizeof buf, fmt, args...);
  s.append(buf, static_cast<size_t>(n));
}

// Arrivals 40 ms apart (2M rows fit in one day for the wall-clock format), lengths random.
std::string make_file(TraceFormat format, int64_t rows) {
  Rng rng(1, 1);
  std::string s;
  s.reserve(static_cast<size_t>(rows) * 64);
  switch (format) {
    case TraceFormat::kAzure:
      s += "TIMESTAMP,ContextTokens,GeneratedTokens\n";
      break;
    case TraceFormat::kVidur:
      s += "arrived_at,num_prefill_tokens,num_decode_tokens\n";
      break;
    case TraceFormat::kBurstGpt:
      s += "Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type\n";
      break;
    case TraceFormat::kNative:
      s += "# flowkv-trace v1\narrival_ns,prompt_tokens,output_tokens,slo_class,prefix_hashes\n";
      break;
    default:
      break;
  }
  for (int64_t i = 0; i < rows; ++i) {
    const int64_t t_us = i * 40'000 + rng.uniform_int(0, 999);
    const int64_t in = rng.uniform_int(1, 8000);
    const int64_t out = rng.uniform_int(1, 1000);
    switch (format) {
      case TraceFormat::kAzure: {
        const int64_t sec = t_us / 1'000'000;
        append(s, "2023-11-16 %02lld:%02lld:%02lld.%06lld0,%lld,%lld\n",
               static_cast<long long>(sec / 3600), static_cast<long long>(sec / 60 % 60),
               static_cast<long long>(sec % 60), static_cast<long long>(t_us % 1'000'000),
               static_cast<long long>(in), static_cast<long long>(out));
        break;
      }
      case TraceFormat::kVidur:
        append(s, "%lld.%06lld,%lld,%lld\n", static_cast<long long>(t_us / 1'000'000),
               static_cast<long long>(t_us % 1'000'000), static_cast<long long>(in),
               static_cast<long long>(out));
        break;
      case TraceFormat::kBurstGpt:
        append(s, "%lld,ChatGPT,%lld,%lld,%lld,Conversation log\n",
               static_cast<long long>(t_us / 1'000'000), static_cast<long long>(in),
               static_cast<long long>(out), static_cast<long long>(in + out));
        break;
      case TraceFormat::kNative:
        append(s, "%lld,%lld,%lld,0,\n", static_cast<long long>(t_us * 1000),
               static_cast<long long>(in), static_cast<long long>(out));
        break;
      case TraceFormat::kMooncake: {
        append(s,
               "{\"timestamp\": %lld, \"input_length\": %lld, \"output_length\": %lld, "
               "\"hash_ids\": [",
               static_cast<long long>(t_us / 1000), static_cast<long long>(in),
               static_cast<long long>(out));
        for (int b = 0; b < 20; ++b)
          append(s, b ? ", %lld" : "%lld", static_cast<long long>(i * 20 + b));
        s += "]}\n";
        break;
      }
      case TraceFormat::kLlmServingSim:
        append(s, "{\"input_toks\": %lld, \"output_toks\": %lld, \"arrival_time_ns\": %lld}\n",
               static_cast<long long>(in), static_cast<long long>(out),
               static_cast<long long>(t_us * 1000));
        break;
      case TraceFormat::kApex:
        // Unsorted on purpose, as APEX files are: the reader sorts.
        append(s,
               "{\"ContextTokens\": %lld, \"GeneratedTokens\": %lld, \"StartTimeOffset\": %lld, "
               "\"RequestID\": \"%016llx\"}\n",
               static_cast<long long>(in), static_cast<long long>(out),
               static_cast<long long>(rng.uniform_int(0, rows * 40'000'000)),
               static_cast<unsigned long long>(rng.next_u64()));
        break;
      default:
        break;
    }
  }
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  int64_t csv_rows = 2'000'000;
  int repeats = 3;
  std::string json_path;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--rows" && i + 1 < argc) {
      csv_rows = std::atoll(argv[++i]);
    } else if (a == "--repeats" && i + 1 < argc) {
      repeats = std::atoi(argv[++i]);
    } else if (a == "--json" && i + 1 < argc) {
      json_path = argv[++i];
    } else {
      std::fprintf(stderr, "usage: trace_read_bench [--rows N] [--repeats R] [--json FILE]\n");
      return 2;
    }
  }
  const fs::path dir =
      fs::temp_directory_path() / ("flowkv-trace-bench-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::vector<Case> cases = {
      {"azure", TraceFormat::kAzure, csv_rows, {}},
      {"vidur", TraceFormat::kVidur, csv_rows, {}},
      {"burstgpt", TraceFormat::kBurstGpt, csv_rows, {}},
      {"native", TraceFormat::kNative, csv_rows, {}},
      {"mooncake (20 hash ids)", TraceFormat::kMooncake, csv_rows / 8, {}},
      {"llmservingsim", TraceFormat::kLlmServingSim, csv_rows / 2, {}},
      {"apex (unsorted)", TraceFormat::kApex, csv_rows / 2, {}},
  };
  std::printf("%-24s %10s %10s %10s %14s %10s\n", "format", "rows", "MB", "best s", "rows/s",
              "MB/s");
  nlohmann::json results = nlohmann::json::array();
  for (Case& c : cases) {
    c.file = dir / (std::string(flowkv::traces::to_string(c.format)) + ".trace");
    {
      const std::string text = make_file(c.format, c.rows);
      std::ofstream(c.file, std::ios::binary)
          .write(text.data(), static_cast<std::streamsize>(text.size()));
    }
    const double mb = static_cast<double>(fs::file_size(c.file)) / 1e6;
    double best = 1e30;
    for (int r = 0; r < repeats; ++r) {
      const auto t0 = std::chrono::steady_clock::now();
      const auto trace = flowkv::traces::read_trace(c.file, c.format);
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (static_cast<int64_t>(trace.requests.size()) != c.rows) {
        std::fprintf(stderr, "%s: read %zu requests, wrote %lld\n", c.name, trace.requests.size(),
                     static_cast<long long>(c.rows));
        return 1;
      }
      best = std::min(best, s);
    }
    const double rows_per_s = static_cast<double>(c.rows) / best;
    std::printf("%-24s %10lld %10.1f %10.3f %14.0f %10.0f\n", c.name,
                static_cast<long long>(c.rows), mb, best, rows_per_s, mb / best);
    results.push_back({{"format", c.name},
                       {"rows", c.rows},
                       {"megabytes", mb},
                       {"best_seconds", best},
                       {"rows_per_second", rows_per_s},
                       {"megabytes_per_second", mb / best}});
    fs::remove(c.file);
  }
  fs::remove_all(dir);
  if (!json_path.empty()) std::ofstream(json_path) << results.dump(2) << "\n";
  return 0;
}
