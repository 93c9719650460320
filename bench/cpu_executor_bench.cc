// CPU executor throughput: prefill tokens/s (one chunk of 512 and of 2048 tokens from an empty
// context) and decode tokens/s (a step of batch 1, 16 and 64 requests at context 512), for
// tiny-llama and small-llama with 1 and 2 threads per node. Prints a table; --json FILE also
// writes the figures. Never passes or fails on time.
//
//   cpu_executor_bench [--models tiny-llama,small-llama] [--threads 1,2] [--repeats 3]
//                      [--json FILE]
// (--models takes catalogue names or paths to config.json files.)
//
// prefill tokens/s = chunk tokens / seconds of the run() call; decode tokens/s = batch /
// seconds of one decode step (each of `repeats` steps advances every request by one token);
// the median of `repeats` timed calls, after one untimed warm-up call. Decode KV is the poison pattern, not a real prefill: the cost does
// not depend on the values, and 64 x 512 tokens of prefill would dominate the run time.
// Block-contiguous layout, bf16 KV, blocks of 16 tokens, random weights of seed 1.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <numeric>
#include <sstream>
#include <string>
#include <vector>

#include "core/base/error.h"
#include "core/spec/model_spec.h"
#include "runtime/cpu/cpu_executor.h"
#include "runtime/cpu/kernels.h"

namespace {

using namespace flowkv;
using Clock = std::chrono::steady_clock;

struct Options {
  std::vector<std::string> models = {"tiny-llama", "small-llama"};
  std::vector<int32_t> threads = {1, 2};
  int32_t repeats = 3;
  std::string json_path;
};

struct Figure {
  std::string model;
  int32_t threads = 0;
  std::string phase;      // "prefill" | "decode"
  int64_t tokens = 0;     // chunk tokens (prefill) or batch (decode)
  int64_t context = 0;    // context before the step
  double tokens_per_s = 0;
  double ms_per_call = 0;
  double cpu_ms_per_call = 0;  // CPU time of the whole process (all threads) per call
};

[[noreturn]] void usage_error(const std::string& message) {
  std::fprintf(stderr,
               "cpu_executor_bench: %s\nusage: cpu_executor_bench [--models a,b] [--threads 1,2] "
               "[--repeats N] [--json FILE]\n",
               message.c_str());
  std::exit(2);
}

std::vector<std::string> split(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

int32_t positive(const std::string& flag, const std::string& text) {
  char* end = nullptr;
  const long v = std::strtol(text.c_str(), &end, 10);
  if (end == text.c_str() || *end != '\0' || v < 1 || v > 1024) {
    usage_error(flag + " '" + text + "': expected a positive integer");
  }
  return static_cast<int32_t>(v);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) usage_error("missing value after " + flag);
    const std::string value = argv[++i];
    if (flag == "--models") {
      o.models = split(value);
    } else if (flag == "--threads") {
      o.threads.clear();
      for (const std::string& t : split(value)) o.threads.push_back(positive(flag, t));
    } else if (flag == "--repeats") {
      o.repeats = positive(flag, value);
    } else if (flag == "--json") {
      o.json_path = value;
    } else {
      usage_error("unknown flag " + flag);
    }
  }
  if (o.models.empty() || o.threads.empty()) usage_error("nothing to measure");
  return o;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

double process_cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

// Times `call` `repeats` times: the median wall seconds and the median process CPU seconds.
template <typename F>
std::pair<double, double> time_calls(int32_t repeats, F&& call) {
  std::vector<double> wall, cpu;
  for (int32_t r = 0; r < repeats; ++r) {
    const double cpu0 = process_cpu_seconds();
    const auto start = Clock::now();
    call(r);
    wall.push_back(seconds_since(start));
    cpu.push_back(process_cpu_seconds() - cpu0);
  }
  return {median(wall), median(cpu)};
}

constexpr int32_t kBlockSize = 16;

Figure prefill(runtime::NodeExecutor& node, const std::string& model, int32_t threads,
               int64_t chunk, int32_t vocab, int32_t repeats) {
  std::vector<int32_t> tokens(static_cast<size_t>(chunk));
  for (size_t i = 0; i < tokens.size(); ++i) tokens[i] = static_cast<int32_t>((i * 7919) % vocab);
  std::vector<int64_t> blocks(static_cast<size_t>((chunk + kBlockSize - 1) / kBlockSize));
  std::iota(blocks.begin(), blocks.end(), 0);
  const runtime::ExecItem item{core::RequestId{0}, tokens, 0, blocks, true};
  std::vector<int32_t> next(1);
  node.run(std::span(&item, 1), next);  // warm-up: buffers grown, pages touched
  const auto [s, cpu] = time_calls(repeats, [&](int32_t) { node.run(std::span(&item, 1), next); });
  return {model, threads, "prefill", chunk, 0, static_cast<double>(chunk) / s, s * 1e3, cpu * 1e3};
}

Figure decode(runtime::NodeExecutor& node, const std::string& model, int32_t threads,
              int64_t batch, int64_t context, int32_t repeats) {
  node.poison();  // stands for the requests' prefilled KV
  const int64_t blocks_each = (context + repeats + 1 + kBlockSize - 1) / kBlockSize;
  std::vector<std::vector<int64_t>> tables(static_cast<size_t>(batch));
  std::vector<int32_t> tokens(static_cast<size_t>(batch));
  for (int64_t b = 0; b < batch; ++b) {
    tables[b].resize(static_cast<size_t>(blocks_each));
    std::iota(tables[b].begin(), tables[b].end(), b * blocks_each);
    tokens[b] = static_cast<int32_t>(b + 1);
  }
  std::vector<int32_t> next(static_cast<size_t>(batch));
  std::vector<runtime::ExecItem> items(static_cast<size_t>(batch));
  const auto step = [&](int64_t position) {
    for (int64_t b = 0; b < batch; ++b) {
      items[b] = {core::RequestId{static_cast<uint64_t>(b)},
                  std::span<const int32_t>(&tokens[b], 1), position, tables[b], true};
    }
    node.run(items, next);
    tokens = next;
  };
  step(context);  // warm-up
  const auto [s, cpu] = time_calls(repeats, [&](int32_t r) { step(context + 1 + r); });
  return {model, threads, "decode", batch, context, static_cast<double>(batch) / s, s * 1e3,
          cpu * 1e3};
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  std::printf("CPU executor, bf16 KV, block-contiguous, blocks of %d, median of %d; SIMD path "
              "%s\n\n",
              kBlockSize, o.repeats, runtime::cpu::to_string(runtime::cpu::simd_path()));
  double load[3] = {0, 0, 0};
  getloadavg(load, 3);
  std::printf("load average before: %.2f (the figures are wall-clock: compare cpu ms/call with "
              "ms/call x threads to see contention)\n\n", load[0]);
  std::printf("%-12s %7s %-8s %7s %8s %12s %10s %10s\n", "model", "threads", "phase", "tokens",
              "context", "tokens/s", "ms/call", "cpu ms");
  std::vector<Figure> results;
  try {
    for (const std::string& name : o.models) {
      const core::ModelSpec spec = core::find_model(name);
      const auto weights =
          std::make_shared<const runtime::ModelWeights>(runtime::random_weights(spec, 1));
      for (const int32_t threads : o.threads) {
        runtime::CpuDevice device(weights, runtime::CpuDeviceOptions{threads, 0});
        core::KvLayout layout;
        layout.kind = core::LayoutKind::kBlockContiguous;
        // Enough blocks for 64 requests of 512 + repeats tokens, and for one 2048-token chunk.
        layout.geometry = spec.kv_geometry(kBlockSize, 64 * ((512 + o.repeats + 1) / kBlockSize + 1));
        layout.geometry.dtype_bytes = 2;
        auto node = device.make_node(layout);
        std::vector<Figure> here;
        for (const int64_t chunk : {512, 2048}) {
          here.push_back(prefill(*node, spec.name, threads, chunk, spec.vocab_size, o.repeats));
        }
        for (const int64_t batch : {1, 16, 64}) {
          here.push_back(decode(*node, spec.name, threads, batch, 512, o.repeats));
        }
        for (const Figure& f : here) {
          std::printf("%-12s %7d %-8s %7lld %8lld %12.0f %10.2f %10.2f\n", f.model.c_str(),
                      f.threads, f.phase.c_str(), static_cast<long long>(f.tokens),
                      static_cast<long long>(f.context), f.tokens_per_s, f.ms_per_call,
                      f.cpu_ms_per_call);
          std::fflush(stdout);
          results.push_back(f);
        }
      }
    }
  } catch (const core::Error& e) {
    std::fprintf(stderr, "cpu_executor_bench: %s\n", e.what());
    return e.exit_code();
  }
  if (!o.json_path.empty()) {
    nlohmann::ordered_json out;
    out["benchmark"] = "cpu_executor";
    out["kv"] = {{"layout", "block-contiguous"}, {"dtype", "bf16"}, {"block_size", kBlockSize}};
    out["repeats"] = o.repeats;
    out["load_average_before"] = load[0];
    out["simd"] = runtime::cpu::to_string(runtime::cpu::simd_path());
    out["results"] = nlohmann::ordered_json::array();
    for (const Figure& f : results) {
      out["results"].push_back({{"model", f.model},
                                {"threads", f.threads},
                                {"phase", f.phase},
                                {"tokens", f.tokens},
                                {"context", f.context},
                                {"tokens_per_s", f.tokens_per_s},
                                {"ms_per_call", f.ms_per_call},
                                {"cpu_ms_per_call", f.cpu_ms_per_call}});
    }
    std::ofstream file(o.json_path);
    if (!file) {
      std::fprintf(stderr, "cpu_executor_bench: cannot write %s\n", o.json_path.c_str());
      return 2;
    }
    file << out.dump(2) << "\n";
  }
  return 0;
}
