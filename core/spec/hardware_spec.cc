#include "core/spec/hardware_spec.h"

#include <cctype>

#include "core/base/error.h"

namespace flowkv::core {
namespace {

// Datasheet capacities ("80GB") are binary gigabytes: nvidia-smi shows an A100-80G as
// 81,920 MiB. What the driver leaves usable is a little less; the runtime sizes its pool from
// the free memory it measures, the simulator from these figures.
constexpr int64_t kGiB = int64_t{1} << 30;

// "H100 SXM", "h100_sxm" and "H100-SXM" are one name.
std::string normalized(const std::string& name) {
  std::string out;
  for (char c : name) {
    if (c == '-' || c == '_' || c == ' ') continue;
    out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

bool names(const GpuSpec& spec, const std::string& wanted) {
  if (normalized(spec.name) == wanted) return true;
  for (const std::string& alias : spec.aliases) {
    if (normalized(alias) == wanted) return true;
  }
  return false;
}

bool names(const LinkSpec& spec, const std::string& wanted) { return normalized(spec.name) == wanted; }

template <typename Spec>
const Spec& find_by_name(const std::vector<Spec>& catalogue, const std::string& name,
                         const char* what) {
  const std::string wanted = normalized(name);
  std::string known;
  for (const Spec& spec : catalogue) {
    if (!wanted.empty() && names(spec, wanted)) return spec;
    known += (known.empty() ? "" : ", ") + spec.name;
  }
  throw_input_error("unknown " + std::string(what) + " '" + name + "': expected one of " + known +
                    " (case does not matter)");
}

}  // namespace

const std::vector<GpuSpec>& gpu_catalogue() {
  // Dense (not 2:4 sparse) bf16 tensor-core peaks; datasheets print the sparse figure first.
  static const std::vector<GpuSpec> catalogue = {
      {"A100-80G", 312e12, 2.039e12, 80 * kGiB,
       "NVIDIA A100 Tensor Core GPU datasheet (SXM4 80GB): BF16 312 TFLOPS dense, "
       "HBM2e 2,039 GB/s, 80 GB; no FP8 tensor cores",
       0, {"a100", "a100-80gb", "a100-sxm", "a100-sxm4-80gb"}},
      {"H100-SXM", 989.4e12, 3.35e12, 80 * kGiB,
       "NVIDIA H100 Tensor Core GPU datasheet (SXM5): BF16 1,979 TFLOPS with sparsity = "
       "989.4 dense, FP8 3,958 with sparsity = 1,979 dense, HBM3 3.35 TB/s, 80 GB",
       1979e12, {"h100", "h100-sxm5", "h100-80gb"}},
      {"H200", 989.4e12, 4.8e12, 141 * kGiB,
       "NVIDIA H200 Tensor Core GPU datasheet (SXM): BF16 1,979 TFLOPS with sparsity = "
       "989.4 dense, FP8 3,958 with sparsity = 1,979 dense, HBM3e 4.8 TB/s, 141 GB",
       1979e12, {"h200-sxm", "h200-141gb"}},
      {"L20", 119.5e12, 864e9, 48 * kGiB,
       "NVIDIA L20 product brief: FP16/BF16 tensor 119.5 TFLOPS, FP8 239 TFLOPS, GDDR6 864 GB/s, 48 GB",
       239e12, {}},
      {"H20", 148e12, 4.0e12, 96 * kGiB,
       "NVIDIA H20 product brief: FP16/BF16 tensor 148 TFLOPS dense (296 sparse), FP8 296 dense, "
       "HBM3 4.0 TB/s, 96 GB",
       296e12, {}},
      {"L40S", 362.05e12, 864e9, 48 * kGiB,
       "NVIDIA L40S datasheet: BF16 362.05 TFLOPS dense (733 with sparsity), FP8 733 dense "
       "(1,466 with sparsity), GDDR6 864 GB/s, 48 GB",
       733e12, {}},
      {"B200", 2.25e15, 7.7e12, 180 * kGiB,
       "NVIDIA HGX B200 datasheet, per GPU: FP16/BF16 4.5 PFLOPS with sparsity = 2.25 dense, "
       "FP8 9 PFLOPS with sparsity = 4.5 dense, HBM3E 7.7 TB/s, 180 GB",
       4.5e15, {"b200-sxm", "hgx-b200", "b200-180gb"}},
      {"MI300X", 1307.4e12, 5.3e12, 192 * kGiB,
       "AMD Instinct MI300X datasheet: peak BF16 1,307.4 TFLOPS dense (2,614.9 with sparsity), "
       "FP8 2,614.9 dense (5,229.8 with sparsity), HBM3 5.3 TB/s, 192 GB",
       2614.9e12, {"instinct-mi300x", "amd-mi300x"}},
  };
  return catalogue;
}

const std::vector<LinkSpec>& link_catalogue() {
  // Bandwidths are one direction. Per-call latencies other than h100-copy's are estimates of
  // the fixed cost of one transport call (launch + protocol), not measurements of ours.
  static const std::vector<LinkSpec> catalogue = {
      {"NVLink4", 450e9, Duration::micros(5),
       "NVIDIA H100 datasheet: NVLink 900 GB/s total = 450 GB/s per direction; per-call "
       "latency an estimate for one NCCL send/recv or peer cudaMemcpyAsync"},
      {"PCIe-Gen4-x16", 31.5e9, Duration::micros(10),
       "PCI-SIG PCIe 4.0: 16 GT/s x 16 lanes, 128b/130b = 31.5 GB/s per direction; "
       "per-call latency an estimate"},
      {"PCIe-Gen5-x16", 63e9, Duration::micros(10),
       "PCI-SIG PCIe 5.0: 32 GT/s x 16 lanes, 128b/130b = 63 GB/s per direction; "
       "per-call latency an estimate"},
      {"IB-400G", 50e9, Duration::micros(8),
       "InfiniBand NDR 400 Gb/s = 50 GB/s per direction (NVIDIA ConnectX-7 datasheet); "
       "per-call latency an estimate for one GPUDirect RDMA send through NCCL"},
      {"eni-25g", 3.125e9, Duration::micros(50),
       "cloud elastic network interface, 25 Gb/s = 3.125 GB/s (e.g. an AWS/Alibaba instance "
       "with 25 Gbit networking); per-call latency an estimate for one TCP message"},
      {"h100-copy", 1.49e12, Duration::nanos(5100),
       "measured on the lent H100: a 1 GiB device-to-device cudaMemcpyAsync took 0.72 ms "
       "(1.49e12 B/s); 32,768 scattered 32 KiB copies took 168 ms, i.e. 5.1 us per call "
       "beyond the bytes"},
  };
  return catalogue;
}

const GpuSpec& find_gpu(const std::string& name) {
  return find_by_name(gpu_catalogue(), name, "GPU");
}

const LinkSpec& find_link(const std::string& name) {
  return find_by_name(link_catalogue(), name, "link");
}

}  // namespace flowkv::core
