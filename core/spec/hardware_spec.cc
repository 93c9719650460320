#include "core/spec/hardware_spec.h"

#include <cctype>

#include "core/base/error.h"

namespace flowkv::core {
namespace {

// Datasheet capacities ("80GB") are binary gigabytes: nvidia-smi shows an A100-80G as
// 81,920 MiB. What the driver leaves usable is a little less; the runtime sizes its pool from
// the free memory it measures, the simulator from these figures.
constexpr int64_t kGiB = int64_t{1} << 30;

bool equal_ignoring_case(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

template <typename Spec>
const Spec& find_by_name(const std::vector<Spec>& catalogue, const std::string& name,
                         const char* what) {
  std::string names;
  for (const Spec& spec : catalogue) {
    if (equal_ignoring_case(spec.name, name)) return spec;
    names += (names.empty() ? "" : ", ") + spec.name;
  }
  throw_input_error("unknown " + std::string(what) + " '" + name + "': expected one of " + names +
                    " (case does not matter)");
}

}  // namespace

const std::vector<GpuSpec>& gpu_catalogue() {
  // Dense (not 2:4 sparse) bf16 tensor-core peaks; datasheets print the sparse figure first.
  static const std::vector<GpuSpec> catalogue = {
      {"A100-80G", 312e12, 2.039e12, 80 * kGiB,
       "NVIDIA A100 Tensor Core GPU datasheet (SXM4 80GB): BF16 312 TFLOPS dense, "
       "HBM2e 2,039 GB/s, 80 GB"},
      {"H100-SXM", 989.4e12, 3.35e12, 80 * kGiB,
       "NVIDIA H100 Tensor Core GPU datasheet (SXM5): BF16 1,979 TFLOPS with sparsity = "
       "989.4 dense, HBM3 3.35 TB/s, 80 GB"},
      {"H200", 989.4e12, 4.8e12, 141 * kGiB,
       "NVIDIA H200 Tensor Core GPU datasheet (SXM): BF16 1,979 TFLOPS with sparsity = "
       "989.4 dense, HBM3e 4.8 TB/s, 141 GB"},
      {"L20", 119.5e12, 864e9, 48 * kGiB,
       "NVIDIA L20 product brief: FP16/BF16 tensor 119.5 TFLOPS, GDDR6 864 GB/s, 48 GB"},
      {"H20", 148e12, 4.0e12, 96 * kGiB,
       "NVIDIA H20 product brief: FP16/BF16 tensor 148 TFLOPS dense (296 sparse), "
       "HBM3 4.0 TB/s, 96 GB"},
      {"L40S", 362.05e12, 864e9, 48 * kGiB,
       "NVIDIA L40S datasheet: BF16 362.05 TFLOPS dense (733 with sparsity), "
       "GDDR6 864 GB/s, 48 GB"},
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
