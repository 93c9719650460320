// GpuSpec and LinkSpec: the hardware catalogues the cost models and schedulers read.
//
// Figures are datasheet peaks (dense bf16 and fp8, HBM bandwidth, memory); the simulator applies
// its own efficiency factors. Each catalogue entry carries the source it came from. Lookups
// ignore case, '-', '_' and spaces and accept each GPU's aliases ("h100", "a100", "mi300x"); an
// unknown name is an input error listing the known ones.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/base/time.h"

namespace flowkv::core {

struct GpuSpec {
  std::string name;           // "H100-SXM"
  double bf16_flops = 0;      // dense bf16 FLOP/s, peak
  double hbm_bytes_per_s = 0; // HBM bandwidth, peak
  int64_t memory_bytes = 0;
  std::string source;         // where the figures come from
  double fp8_flops = 0;       // dense fp8 FLOP/s, peak; 0: no FP8 tensor cores (FP8 runs at bf16 rate)
  std::vector<std::string> aliases;  // other names people type ("h100", "h100-sxm5")
};

struct LinkSpec {
  std::string name;              // "NVLink4"
  double bytes_per_s = 0;        // one direction
  Duration per_call_latency;     // fixed cost of one transport call
  std::string source;
};

const GpuSpec& find_gpu(const std::string& name);
const LinkSpec& find_link(const std::string& name);
const std::vector<GpuSpec>& gpu_catalogue();
const std::vector<LinkSpec>& link_catalogue();

}  // namespace flowkv::core
