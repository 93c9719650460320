// flowkv bench-transfer: the FlowKV paper's Table 3 on the GPU at hand (runtime/cuda/transfer_bench.h
// says what is measured; docs/gpu.md what the columns mean).
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "core/base/error.h"
#include "core/spec/model_spec.h"
#include "runtime/cuda/cuda_handles.h"
#include "runtime/cuda/transfer_bench.h"
#include "tools/flowkv/command.h"

namespace flowkv::cli {
namespace {

std::vector<int64_t> parse_token_list(const std::string& text) {
  std::vector<int64_t> tokens;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    size_t used = 0;
    long long v = 0;
    try {
      v = std::stoll(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != item.size() || v <= 0) {
      core::throw_input_error("--tokens: '" + item + "' in '" + text +
                              "' is not a positive integer (expected e.g. 500,1000,4000)");
    }
    tokens.push_back(v);
  }
  if (tokens.empty()) core::throw_input_error("--tokens: empty list");
  return tokens;
}

// Writes next to the target and renames, so a failed run leaves no half-written file.
void write_json_file(const std::string& path, const nlohmann::json& j) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp);
    if (!out) core::throw_input_error("--json: cannot write '" + path + "'");
    out << j.dump(2) << "\n";
    if (!out) core::throw_input_error("--json: writing '" + path + "' failed");
  }
  std::filesystem::rename(tmp, path);
}

int bench_transfer(const Args& args) {
  const std::string usage =
      "flowkv bench-transfer [--model NAME] [--tokens LIST] [--transport copy|nccl] "
      "[--block-size N] [--kv-dtype auto|bf16|fp8] [--occupancy F] [--seed S] [--repeats R] [--warmup W] "
      "[--json FILE]";
  po::options_description options("bench-transfer options");
  std::string model, tokens, transport, json_path, kv_dtype;
  runtime::TransferBenchOptions o;
  int64_t timeout_s = 120;
  options.add_options()
      ("model", po::value(&model)->default_value("llama-3.1-8b"), "catalogue name or path to a config.json")
      ("tokens", po::value(&tokens)->default_value("500,1000,4000,8000,10000"), "request sizes, comma-separated")
      ("transport", po::value(&transport)->default_value("copy"),
       "copy: within one GPU (cudaMemcpyAsync / fused kernel); nccl: between ranks "
       "(RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT; WORLD_SIZE=1 sends to itself)")
      ("block-size", po::value(&o.block_size)->default_value(16), "tokens per KV block")
      ("kv-dtype", po::value(&kv_dtype)->default_value("auto"), "KV element: auto (the model's dtype), bf16, fp8")
      ("occupancy", po::value(&o.occupancy)->default_value(0.5), "occupancy of the fragmented pools, in [0, 0.95]")
      ("seed", po::value(&o.seed)->default_value(1), "seed of the data and the pool histories")
      ("repeats", po::value(&o.repeats)->default_value(10), "timed runs per method (the median is reported)")
      ("warmup", po::value(&o.warmup)->default_value(2), "unmeasured runs before the timed ones")
      ("timeout-s", po::value(&timeout_s)->default_value(120), "deadline of every transfer and set-up step, seconds")
      ("json", po::value(&json_path), "also write the figures as JSON to FILE");
  po::variables_map vm;
  if (!parse_args(usage, args, options, {}, vm)) return 0;
  if (transport == "copy") {
    o.transport = runtime::BenchTransport::kCopy;
  } else if (transport == "nccl") {
    o.transport = runtime::BenchTransport::kNccl;
  } else {
    core::throw_input_error("--transport '" + transport + "': expected copy or nccl");
  }
  if (timeout_s <= 0) core::throw_input_error("--timeout-s must be positive");
  o.timeout = core::Duration::seconds(timeout_s);
  o.tokens = parse_token_list(tokens);
  // MLA models move one latent per token and layer, windowed ones the blocks they keep
  // (core/kv/kv_layout.h): the geometry says so, the kernels follow it.
  o.model = core::find_model(model);
  if (const int32_t bytes = core::parse_kv_dtype(kv_dtype, "--kv-dtype"); bytes > 0) o.model.kv_dtype_bytes = bytes;
  if (!runtime::cuda_device_available()) {
    throw core::Error(core::ErrorKind::kUnsupported,
                      "bench-transfer needs a CUDA device and none is usable here");
  }
  const runtime::TransferBenchReport report = runtime::run_transfer_bench(o, std::cerr);
  if (!report.reporter) {
    std::cout << "bench-transfer: this rank sent; the receiving rank verifies and reports\n";
    return 0;
  }
  runtime::print_table(o, report, std::cout);
  if (!json_path.empty()) {
    nlohmann::json j = runtime::to_json(o, report);
    std::string command = "flowkv bench-transfer";
    for (const auto& a : args) command += " " + a;
    j["command"] = command;
    write_json_file(json_path, j);
    std::cout << "wrote " << json_path << "\n";
  }
  return 0;
}

}  // namespace
FLOWKV_COMMAND("bench-transfer", "measure KV transfer methods (paper's Table 3) on a real GPU",
               bench_transfer);
}  // namespace flowkv::cli
