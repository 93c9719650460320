// GPU and link catalogues: the required entries, case-insensitive lookup, and the measured
// H100 copy figures reproduced by the link model.
#include "core/spec/hardware_spec.h"

#include <gtest/gtest.h>

#include <string>

#include "core/base/error.h"

namespace flowkv::core {
namespace {

TEST(HardwareSpec, GpuCatalogueHasTheRequiredGpus) {
  for (const char* name : {"A100-80G", "H100-SXM", "H200", "L20", "H20", "L40S"}) {
    const GpuSpec& g = find_gpu(name);
    EXPECT_EQ(g.name, name);
    EXPECT_GT(g.bf16_flops, 1e14) << name;
    EXPECT_GT(g.hbm_bytes_per_s, 5e11) << name;
    EXPECT_GE(g.memory_bytes, int64_t{48} << 30) << name;
    EXPECT_FALSE(g.source.empty()) << name;
  }
  // Dense, not the 2:4-sparse figure the datasheets print first.
  EXPECT_DOUBLE_EQ(find_gpu("H100-SXM").bf16_flops, 989.4e12);
  EXPECT_GT(find_gpu("H200").memory_bytes, find_gpu("H100-SXM").memory_bytes);
}

TEST(HardwareSpec, LinkCatalogueHasTheRequiredLinks) {
  for (const char* name :
       {"NVLink4", "PCIe-Gen4-x16", "PCIe-Gen5-x16", "IB-400G", "eni-25g", "h100-copy"}) {
    const LinkSpec& l = find_link(name);
    EXPECT_GT(l.bytes_per_s, 1e9) << name;
    EXPECT_GT(l.per_call_latency, Duration::zero()) << name;
    EXPECT_FALSE(l.source.empty()) << name;
  }
  EXPECT_LT(find_link("PCIe-Gen4-x16").bytes_per_s, find_link("PCIe-Gen5-x16").bytes_per_s);
}

TEST(HardwareSpec, LookupIgnoresCase) {
  EXPECT_EQ(find_gpu("h100-sxm").name, "H100-SXM");
  EXPECT_EQ(find_link("NVLINK4").name, "NVLink4");
  EXPECT_EQ(find_link("ENI-25G").name, "eni-25g");
}

TEST(HardwareSpec, UnknownNamesListTheCatalogue) {
  try {
    find_gpu("X100");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.exit_code(), 2);
    const std::string msg = e.what();
    EXPECT_NE(msg.find("X100"), std::string::npos);
    EXPECT_NE(msg.find("L40S"), std::string::npos);
  }
  try {
    find_link("carrier-pigeon");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("h100-copy"), std::string::npos);
  }
}

// calls * latency + bytes / bandwidth reproduces the two measurements behind h100-copy.
TEST(HardwareSpec, H100CopyModelReproducesTheMeasurements) {
  const LinkSpec& l = find_link("h100-copy");
  const double gib = 1024.0 * 1024.0 * 1024.0;
  const double one_big = l.per_call_latency.seconds() + gib / l.bytes_per_s;
  EXPECT_NEAR(one_big, 0.72e-3, 0.72e-3 * 0.02);
  const double scattered = 32768 * l.per_call_latency.seconds() + gib / l.bytes_per_s;
  EXPECT_NEAR(scattered, 168e-3, 168e-3 * 0.02);
}

}  // namespace
}  // namespace flowkv::core
