// The CUDA executor on a real model shape (Llama-3.1-8B by default, random weights filled on the
// GPU) against the device's own measured limits, all measured in the same run:
//
//   copy bandwidth  one 1 GiB cudaMemcpyAsync device to device, median of 10; bytes READ AND
//                   WRITTEN per second (2 x size / time), i.e. the HBM traffic a copy sustains.
//                   (docs/gpu.md's bench-transfer counts a copy's bytes one way: half of this.)
//   GEMM rate       one 8192^3 bf16 cuBLASLt GEMM (f32 accumulate, heuristic's pick), median of
//                   10, in FLOP/s.
//
//   decode          one decode step (run(): tables up, forward, argmax, tokens down, synchronised)
//                   for batch B at context C, median wall time of 5 after 2 warm-ups, against its
//                   memory roofline = (weight bytes read + B * C * KV bytes per token) / copy bw.
//                   Goal: <= 1.25x roofline at B >= 16.
//   prefill         one request of T tokens from position 0, median of 3 after 1 warm-up; FLOP/s
//                   = (2 x linear parameters x T + attention FLOPs) / time, against the GEMM rate.
//                   Goal: >= 60% at T >= 2048.
//   attention       kernels::attention alone, decode (B queries at context C, one layer), both
//                   layouts, CUDA events, median of 20: K+V bytes read / time against the copy bw.
//                   Goal: >= 70%.
//
// Every executor figure is run for each GEMM policy asked for (--policies), since batch
// invariance fixes one cuBLASLt algorithm per shape (kernels/gemm.h): "fixed:R" picks the
// heuristic's algorithm for R rows, "heuristic" picks per row count. For each policy the bench
// also probes batch invariance on this device (a prompt's logits after one prefill, after chunks
// batched with decodes, after one token per iteration; a decode alone and in a batch; compared bit
// for bit) and reports it; it never fails on time.
//
//   executor_bench [--model NAME|config.json] [--policies fixed:4096,heuristic] [--json FILE]
//                  [--quick]
#include <cuda_runtime_api.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <memory>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/base/error.h"
#include "core/spec/model_spec.h"
#include "kernels/attention.h"
#include "kernels/cuda_check.h"
#include "kernels/gemm.h"
#include "runtime/cuda/cuda_executor.h"
#include "runtime/cuda/cuda_handles.h"

using namespace flowkv;
using nlohmann::json;

namespace {

struct Options {
  std::string model = "llama-3.1-8b";
  std::vector<std::string> policies = {"fixed:4096", "heuristic"};
  std::string json_path;
  bool quick = false;
  std::string command;
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}

// Median milliseconds of `fn` between two events on `stream`.
double time_events(cudaStream_t stream, int warmup, int repeats, const std::function<void()>& fn) {
  runtime::CudaEvent start(true), stop(true);
  for (int i = 0; i < warmup; ++i) fn();
  std::vector<double> ms;
  for (int i = 0; i < repeats; ++i) {
    start.record(stream);
    fn();
    stop.record(stream);
    FLOWKV_CUDA_CHECK(cudaEventSynchronize(stop.get()));
    ms.push_back(runtime::CudaEvent::elapsed_ms(start, stop));
  }
  return median(ms);
}

// Median wall milliseconds of a synchronous call.
double time_wall(int warmup, int repeats, const std::function<void()>& fn) {
  for (int i = 0; i < warmup; ++i) fn();
  std::vector<double> ms;
  for (int i = 0; i < repeats; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    fn();
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  return median(ms);
}

// Bytes read and written per second by one 1 GiB device-to-device copy.
double copy_bandwidth(cudaStream_t stream) {
  const int64_t bytes = int64_t{1} << 30;
  runtime::DeviceBuffer a(bytes), b(bytes);
  FLOWKV_CUDA_CHECK(cudaMemsetAsync(a.data(), 1, size_t(bytes), stream));
  const double ms = time_events(stream, 2, 10, [&] {
    FLOWKV_CUDA_CHECK(cudaMemcpyAsync(b.data(), a.data(), size_t(bytes), cudaMemcpyDeviceToDevice, stream));
  });
  return 2.0 * double(bytes) / (ms * 1e-3);
}

double gemm_rate(cudaStream_t stream) {
  const int64_t n = 8192;
  runtime::DeviceBuffer x(n * n * 2), w(n * n * 2), y(n * n * 2);
  FLOWKV_CUDA_CHECK(cudaMemsetAsync(x.data(), 0x3c, size_t(x.bytes()), stream));  // bf16 ~0.01
  FLOWKV_CUDA_CHECK(cudaMemsetAsync(w.data(), 0x3c, size_t(w.bytes()), stream));
  kernels::GemmRunner runner(nullptr, int64_t{32} << 20);
  const kernels::GemmShape shape{n, n, kernels::GemmOutput::kBf16, false};
  const double ms = time_events(stream, 3, 10, [&] {
    runner.run(shape, x.as<__nv_bfloat16>(), n, w.as<__nv_bfloat16>(), y.data(), stream);
  });
  return 2.0 * double(n) * n * n / (ms * 1e-3);
}

json attention_alone(const core::ModelSpec& spec, double copy_bw, bool quick) {
  json rows = json::array();
  const std::vector<std::pair<int64_t, int64_t>> configs =
      quick ? std::vector<std::pair<int64_t, int64_t>>{{64, 2048}}
            : std::vector<std::pair<int64_t, int64_t>>{{16, 8192}, {64, 2048}, {256, 512}, {64, 8192}};
  runtime::CudaStream stream;
  for (auto kind : {core::LayoutKind::kPagedPerLayer, core::LayoutKind::kBlockContiguous}) {
    for (const auto& [batch, context] : configs) {
      core::KvLayout layout;
      layout.kind = kind;
      layout.geometry = spec.kv_geometry(16, 0);
      layout.geometry.num_layers = 2;  // read layer 1 of 2: the layouts' strides stay realistic
      layout.geometry.dtype_bytes = 2;
      const int64_t blocks_per = layout.geometry.blocks_for_tokens(context);
      layout.geometry.num_blocks = batch * blocks_per;
      runtime::DeviceBuffer pool(layout.geometry.pool_bytes());
      FLOWKV_CUDA_CHECK(cudaMemsetAsync(pool.data(), 0, size_t(pool.bytes()), stream.get()));
      std::vector<kernels::AttentionItem> items;
      std::vector<int64_t> block_ids;
      for (int64_t b = 0; b < batch; ++b) {
        items.push_back({int32_t(b), 1, int32_t(context - 1), int32_t(block_ids.size())});
        for (int64_t i = 0; i < blocks_per; ++i) block_ids.push_back(b * blocks_per + i);
      }
      const auto s = kernels::schedule_attention(items, spec.num_heads, spec.num_kv_heads);
      auto upload = [&](const auto& v) {
        runtime::DeviceBuffer d(int64_t(std::max<size_t>(1, v.size() * sizeof(v[0]))));
        if (!v.empty()) FLOWKV_CUDA_CHECK(cudaMemcpy(d.data(), v.data(), v.size() * sizeof(v[0]), cudaMemcpyHostToDevice));
        return d;
      };
      auto d_items = upload(items), d_blocks = upload(block_ids), d_decode = upload(s.decode),
           d_combine = upload(s.combine);
      const int64_t q_stride = int64_t(spec.num_heads + 2 * spec.num_kv_heads) * spec.head_dim;
      runtime::DeviceBuffer q(batch * q_stride * 2), out(batch * spec.num_heads * spec.head_dim * 2);
      runtime::DeviceBuffer partial(int64_t(s.num_slots) * spec.num_heads * spec.head_dim * 4);
      runtime::DeviceBuffer ml(int64_t(s.num_slots) * spec.num_heads * 8);
      FLOWKV_CUDA_CHECK(cudaMemsetAsync(q.data(), 0x3c, size_t(q.bytes()), stream.get()));
      FLOWKV_CUDA_CHECK(cudaDeviceSynchronize());  // the uploads above ran on the legacy stream
      kernels::AttentionArgs a;
      a.q = q.as<__nv_bfloat16>();
      a.q_stride = q_stride;
      a.out = out.as<__nv_bfloat16>();
      a.pool = pool.data();
      a.layout = layout;
      a.layer = 1;
      a.num_heads = spec.num_heads;
      a.block_ids = d_blocks.as<int64_t>();
      a.items = d_items.as<kernels::AttentionItem>();
      a.decode = d_decode.as<kernels::AttentionWork>();
      a.num_decode = int32_t(s.decode.size());
      a.combine = d_combine.as<kernels::CombineWork>();
      a.num_combine = int32_t(s.combine.size());
      a.partial_out = partial.as<float>();
      a.partial_ml = ml.as<float2>();
      const double ms = time_events(stream.get(), 3, 20, [&] { kernels::attention(a, stream.get()); });
      const double bytes = double(batch) * context * 2 * spec.num_kv_heads * spec.head_dim * 2;
      const double bw = bytes / (ms * 1e-3);
      std::printf("attention %-17s batch %4ld context %5ld: %8.3f ms  %7.1f GB/s  %5.1f%% of copy\n",
                  core::to_string(kind), long(batch), long(context), ms, bw / 1e9, 100 * bw / copy_bw);
      rows.push_back({{"layout", core::to_string(kind)}, {"batch", batch}, {"context", context},
                      {"median_ms", ms}, {"kv_bytes", bytes}, {"gb_per_s", bw / 1e9},
                      {"fraction_of_copy", bw / copy_bw}});
    }
  }
  return rows;
}

// Linear-layer parameters read per token (all but the embedding, which is gathered).
double linear_params(const core::ModelSpec& s) {
  const double h = s.hidden_size, q = double(s.num_heads) * s.head_dim;
  const double qkv = double(s.num_heads + 2 * s.num_kv_heads) * s.head_dim;
  return s.num_layers * (qkv * h + q * h + 3.0 * h * s.intermediate_size) + double(s.vocab_size) * h;
}

struct Node {
  std::unique_ptr<runtime::NodeExecutor> exec;
  int64_t next_block = 0;
  std::vector<int64_t> take(int64_t n) {
    std::vector<int64_t> b(static_cast<size_t>(n));
    for (auto& id : b) id = next_block++;
    return b;
  }
};

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// Batch invariance on this device under the node's GEMM policy: the logits after a 96-token
// prompt computed (a) in one prefill, (b) in chunks of 40 and 56, the second batched with 63
// decode items, (c) one token per iteration; and (d) a decode step alone and inside a batch of 64.
json invariance_probe(Node& node, int32_t vocab) {
  node.next_block = 0;
  std::vector<int32_t> prompt(96);
  for (size_t i = 0; i < prompt.size(); ++i) prompt[i] = int32_t((i * 7919 + 3) % size_t(vocab));
  const auto blocks = node.take(8);
  auto piece = [&](int64_t start, int64_t n, bool sample) {
    runtime::ExecItem e;
    e.tokens = std::span<const int32_t>(prompt).subspan(size_t(start), size_t(n));
    e.start = start;
    e.blocks = blocks;
    e.sample = sample;
    return e;
  };
  std::vector<std::vector<int32_t>> other_tokens(63);
  std::vector<std::vector<int64_t>> other_blocks;
  std::vector<runtime::ExecItem> others(63);
  for (size_t i = 0; i < others.size(); ++i) {
    other_tokens[i] = {int32_t((i * 37 + 11) % size_t(vocab))};
    other_blocks.push_back(node.take(32));
    others[i].tokens = other_tokens[i];
    others[i].start = 300 + int64_t(i);
    others[i].blocks = other_blocks.back();
  }
  // Runs `items` and returns the logits of sampled item number `which`.
  auto logits = [&](const std::vector<runtime::ExecItem>& items, size_t which) {
    size_t sampled = 0;
    for (const auto& e : items) sampled += e.sample ? 1 : 0;
    std::vector<int32_t> next(items.size());
    std::vector<float> all(sampled * size_t(vocab));
    node.exec->run(items, next, all);
    if (which >= sampled) return std::vector<float>();
    return std::vector<float>(all.begin() + which * vocab, all.begin() + (which + 1) * vocab);
  };
  const auto whole = logits({piece(0, 96, true)}, 0);
  logits({piece(0, 40, false)}, 0);
  std::vector<runtime::ExecItem> batch = others;
  batch.push_back(piece(40, 56, true));
  const auto chunked = logits(batch, 63);
  for (int64_t p = 0; p < 95; ++p) logits({piece(p, 1, false)}, 0);
  const auto one_by_one = logits({piece(95, 1, true)}, 0);
  const auto alone = logits({others[17]}, 0);
  const auto in_batch = logits(others, 17);
  json j = {{"prefill_vs_chunked_and_batched", same_bits(whole, chunked)},
            {"prefill_vs_token_by_token", same_bits(whole, one_by_one)},
            {"decode_alone_vs_in_batch_of_63", same_bits(alone, in_batch)}};
  std::printf("   batch invariance: %s\n", j.dump().c_str());
  return j;
}

json run_policy(const Options& o, const core::ModelSpec& spec, const std::string& policy,
                double copy_bw, double gemm_flops) {
  runtime::CudaDeviceOptions dopt;
  if (policy == "heuristic") {
    dopt.gemm_policy = kernels::GemmAlgoPolicy::kHeuristicPerRows;
  } else if (policy.rfind("fixed:", 0) == 0) {
    dopt.gemm_reference_rows = std::stoll(policy.substr(6));
  } else {
    core::throw_input_error("--policies: unknown policy '" + policy + "' (fixed:ROWS or heuristic)");
  }
  const auto t0 = std::chrono::steady_clock::now();
  runtime::CudaDevice device(0, spec, 1, dopt);
  const double fill_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("\n== policy %s: %s, weights %.2f GB filled in %.2f s\n   GEMMs: %s\n", policy.c_str(),
              device.name().c_str(), device.weight_bytes() / 1e9, fill_s, device.gemm_algorithms().c_str());
  core::KvLayout layout;
  layout.kind = core::LayoutKind::kBlockContiguous;
  layout.geometry = spec.kv_geometry(16, 0);
  layout.geometry.dtype_bytes = 2;
  layout.geometry.num_blocks = int64_t(0.97 * double(device.free_bytes())) / layout.geometry.block_bytes();
  Node node{device.make_node(layout)};
  const int64_t pool_tokens = layout.geometry.num_blocks * 16;
  const int32_t vocab = spec.vocab_size;
  const double weight_read = double(device.weight_bytes()) - double(spec.vocab_size) * spec.hidden_size * 2 *
                                                              (spec.tie_word_embeddings ? 0 : 1);
  json result = {{"policy", policy}, {"gemm_algorithms", device.gemm_algorithms()},
                 {"weight_bytes", device.weight_bytes()}, {"pool_tokens", pool_tokens}};

  result["batch_invariance"] = invariance_probe(node, vocab);

  json decode = json::array();
  const std::vector<int64_t> batches = o.quick ? std::vector<int64_t>{16} : std::vector<int64_t>{1, 16, 64, 256};
  const std::vector<int64_t> contexts = o.quick ? std::vector<int64_t>{2048} : std::vector<int64_t>{512, 2048, 8192};
  std::printf("   %-6s %-8s %10s %12s %10s\n", "batch", "context", "step ms", "roofline ms", "ratio");
  for (int64_t batch : batches) {
    for (int64_t context : contexts) {
      const int64_t blocks_per = (context + 15) / 16;
      if (batch * blocks_per > layout.geometry.num_blocks) {
        std::printf("   %-6ld %-8ld  does not fit (%ld tokens of KV, pool holds %ld)\n", long(batch),
                    long(context), long(batch * context), long(pool_tokens));
        decode.push_back({{"batch", batch}, {"context", context}, {"fits", false}});
        continue;
      }
      node.next_block = 0;
      std::vector<std::vector<int64_t>> blocks;
      std::vector<int32_t> token = {42};
      std::vector<runtime::ExecItem> items(static_cast<size_t>(batch));
      for (int64_t b = 0; b < batch; ++b) {
        blocks.push_back(node.take(blocks_per));
        items[size_t(b)].tokens = token;
        items[size_t(b)].start = context - 1;
        items[size_t(b)].blocks = blocks.back();
      }
      std::vector<int32_t> next(static_cast<size_t>(batch));
      const double ms = time_wall(2, 5, [&] { node.exec->run(items, next); });
      const double bytes = weight_read + double(batch) * context * spec.kv_bytes_per_token();
      const double roof_ms = bytes / copy_bw * 1e3;
      std::printf("   %-6ld %-8ld %10.3f %12.3f %9.2fx\n", long(batch), long(context), ms, roof_ms, ms / roof_ms);
      decode.push_back({{"batch", batch}, {"context", context}, {"fits", true}, {"median_ms", ms},
                        {"bytes_read", bytes}, {"roofline_ms", roof_ms}, {"ratio_to_roofline", ms / roof_ms},
                        {"tokens_per_s", double(batch) / (ms * 1e-3)}});
    }
  }
  result["decode"] = decode;

  json prefill = json::array();
  const std::vector<int64_t> lengths = o.quick ? std::vector<int64_t>{2048} : std::vector<int64_t>{512, 2048, 8192};
  std::printf("   %-8s %10s %12s %12s\n", "tokens", "ms", "TFLOP/s", "of GEMM");
  for (int64_t t : lengths) {
    node.next_block = 0;
    std::vector<int32_t> tokens(static_cast<size_t>(t));
    for (int64_t i = 0; i < t; ++i) tokens[size_t(i)] = int32_t((i * 7919) % vocab);
    const auto blocks = node.take((t + 15) / 16);
    runtime::ExecItem item;
    item.tokens = tokens;
    item.blocks = blocks;
    std::vector<int32_t> next(1);
    const double ms = time_wall(1, 3, [&] { node.exec->run({&item, 1}, next); });
    const double attn_flops = 4.0 * spec.num_layers * spec.num_heads * spec.head_dim * (double(t) * (t + 1) / 2);
    const double flops = 2.0 * linear_params(spec) * t + attn_flops;
    const double rate = flops / (ms * 1e-3);
    std::printf("   %-8ld %10.3f %12.1f %11.1f%%\n", long(t), ms, rate / 1e12, 100 * rate / gemm_flops);
    prefill.push_back({{"tokens", t}, {"median_ms", ms}, {"flops", flops}, {"attention_flops", attn_flops},
                       {"tflop_per_s", rate / 1e12}, {"fraction_of_gemm", rate / gemm_flops}});
  }
  result["prefill"] = prefill;
  if (auto* info = dynamic_cast<runtime::CudaNodeExecutorInfo*>(node.exec.get())) {
    result["gemm_fallbacks"] = info->gemm_fallbacks();
  }
  return result;
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 0; i < argc; ++i) {
    if (i > 0) o.command += ' ';
    o.command += argv[i];
  }
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) core::throw_input_error(a + " needs a value");
      return argv[++i];
    };
    if (a == "--model") {
      o.model = value();
    } else if (a == "--json") {
      o.json_path = value();
    } else if (a == "--quick") {
      o.quick = true;
    } else if (a == "--policies") {
      o.policies.clear();
      std::stringstream ss(value());
      for (std::string p; std::getline(ss, p, ',');) o.policies.push_back(p);
    } else {
      core::throw_input_error("unknown argument " + a +
                              " (executor_bench [--model NAME] [--policies fixed:4096,heuristic] [--json FILE] [--quick])");
    }
  }
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const Options o = parse(argc, argv);
    if (!runtime::cuda_device_available()) {
      std::fprintf(stderr, "executor_bench: no CUDA device\n");
      return 2;
    }
    const core::ModelSpec spec = core::find_model(o.model);
    int driver = 0, runtime_version = 0;
    FLOWKV_CUDA_CHECK(cudaDriverGetVersion(&driver));
    FLOWKV_CUDA_CHECK(cudaRuntimeGetVersion(&runtime_version));
    cudaDeviceProp prop{};
    FLOWKV_CUDA_CHECK(cudaGetDeviceProperties(&prop, 0));
    runtime::CudaStream stream;
    const double copy_bw = copy_bandwidth(stream.get());
    const double gemm_flops = gemm_rate(stream.get());
    std::printf("%s (sm_%d%d), driver %d, runtime %d, cuBLASLt %zu\n", prop.name, prop.major, prop.minor,
                driver, runtime_version, cublasLtGetVersion());
    std::printf("copy bandwidth (read + write): %.1f GB/s; bf16 GEMM 8192^3: %.1f TFLOP/s\n\n",
                copy_bw / 1e9, gemm_flops / 1e12);
    json j;
    j["command"] = o.command;
    j["device"] = {{"name", prop.name}, {"compute_capability", std::to_string(prop.major) + "." + std::to_string(prop.minor)},
                   {"driver_version", driver}, {"runtime_version", runtime_version},
                   {"cublaslt_version", cublasLtGetVersion()}};
    j["model"] = spec.name;
    j["copy_bandwidth_bytes_per_s"] = copy_bw;
    j["copy_bandwidth_note"] = "bytes read + written per second by one 1 GiB device-to-device copy";
    j["gemm_flop_per_s"] = gemm_flops;
    j["attention"] = attention_alone(spec, copy_bw, o.quick);
    json policies = json::array();
    for (const std::string& p : o.policies) policies.push_back(run_policy(o, spec, p, copy_bw, gemm_flops));
    j["policies"] = policies;
    if (!o.json_path.empty()) {
      std::ofstream(o.json_path) << j.dump(2) << "\n";
      std::printf("\nwrote %s\n", o.json_path.c_str());
    }
    return 0;
  } catch (const core::Error& e) {
    std::fprintf(stderr, "executor_bench: %s\n", e.what());
    return e.exit_code();
  }
}
