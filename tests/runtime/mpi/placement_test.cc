// Nodes land on the ranks the docs promise (one per rank; rank 0 the controller only with one
// rank more; the scenario's placement), GPUs are numbered per host among the hosting ranks, and
// every impossible placement is an input error that names what to fix.
#include <gtest/gtest.h>

#include "core/base/error.h"
#include "tests/input_error.h"
#include "core/sched/load_scenario.h"
#include "runtime/live/launch_env.h"
#include "runtime/mpi/placement.h"

namespace flowkv::runtime {
namespace {

using flowkv::testing::error_of;

using nlohmann::json;

core::Scenario scenario(int prefill, int decode, const json& placement = nullptr) {
  json j = json::parse(R"({"name": "p", "model": "tiny-llama", "kv": {"num_blocks": 64},
    "workload": {"generator": {"arrival": {"process": "poisson", "rate": 1}, "requests": 1,
                 "input": {"dist": "fixed", "value": 4}, "output": {"dist": "fixed", "value": 2}}}})");
  j["cluster"]["nodes"] = json::array({{{"gpu", "H100-SXM"}, {"count", prefill}, {"role", "prefill"}},
                                       {{"gpu", "H100-SXM"}, {"count", decode}, {"role", "decode"}}});
  if (!placement.is_null()) j["placement"] = placement;
  return core::parse_scenario(j, "placement_test", ".");
}

TEST(Placement, OneNodePerRankAndControllerOnlyRankZero) {
  const core::Scenario s = scenario(1, 1);
  const std::vector<std::string> one_host(3, "h");
  const RankLayout l3 = place_nodes(s, 3, one_host);
  EXPECT_EQ(l3.node_rank, (std::vector<int>{1, 2}));
  EXPECT_FALSE(l3.hosts_nodes(0));
  EXPECT_EQ(l3.hosting_ranks, (std::vector<int>{1, 2}));
  // GPUs per host among the hosting ranks: rank 1 takes GPU 0 though it is local rank 1.
  EXPECT_EQ(l3.rank_device, (std::vector<int>{-1, 0, 1}));
  const RankLayout l2 = place_nodes(s, 2, std::vector<std::string>(2, "h"));
  EXPECT_EQ(l2.node_rank, (std::vector<int>{0, 1}));
  EXPECT_EQ(l2.rank_device, (std::vector<int>{0, 1}));
}

TEST(Placement, DevicesCountPerHost) {
  const core::Scenario s = scenario(2, 2);
  const RankLayout l = place_nodes(s, 5, std::vector<std::string>{"a", "a", "a", "b", "b"});
  EXPECT_EQ(l.rank_device, (std::vector<int>{-1, 0, 1, 0, 1}));
  check_one_rank_per_gpu(l, std::vector<std::string>{"a", "a", "a", "b", "b"});
}

TEST(Placement, ScenarioPlacementPutsSeveralNodesOnARank) {
  const core::Scenario s = scenario(2, 2, json::parse(R"({"P0": 1, "P1": 2, "D0": {"rank": 1}, "D1": {"rank": 2, "device": 3}})"));
  const RankLayout l = place_nodes(s, 3, std::vector<std::string>(3, "h"));
  EXPECT_EQ(l.node_rank, (std::vector<int>{1, 2, 1, 2}));
  EXPECT_EQ(l.rank_nodes[1], (std::vector<uint32_t>{0, 2}));
  EXPECT_EQ(l.node_names(s, 2), "P1 D1");
  EXPECT_EQ(l.rank_device, (std::vector<int>{-1, 0, 3}));
}

TEST(Placement, ErrorsNameWhatToFix) {
  const core::Scenario s = scenario(1, 1);
  EXPECT_NE(error_of([&] { place_nodes(s, 5, std::vector<std::string>(5, "h")); }).find("give the scenario a \"placement\""),
            std::string::npos);
  const core::Scenario far = scenario(1, 1, json::parse(R"({"P0": 1, "D0": 7})"));
  EXPECT_NE(error_of([&] { place_nodes(far, 3, std::vector<std::string>(3, "h")); }).find("placement.D0.rank"),
            std::string::npos);
  EXPECT_NE(error_of([&] { scenario(1, 1, json::parse(R"({"P0": 1})")); }).find("missing: D0"), std::string::npos);
  EXPECT_NE(error_of([&] { scenario(1, 1, json::parse(R"({"P0": 1, "D0": 2, "X9": 1})")); }).find("X9"),
            std::string::npos);
  const core::Scenario clash = scenario(1, 1, json::parse(R"({"P0": {"rank": 1, "device": 0}, "D0": {"rank": 2, "device": 0}})"));
  const RankLayout l = place_nodes(clash, 3, std::vector<std::string>(3, "h"));
  EXPECT_NE(error_of([&] { check_one_rank_per_gpu(l, std::vector<std::string>(3, "h")); }).find("NCCL refuses"),
            std::string::npos);
  const core::Scenario split = scenario(1, 1, json::parse(R"({"P0": {"rank": 1, "device": 0}, "D0": {"rank": 1, "device": 1}})"));
  EXPECT_NE(error_of([&] { place_nodes(split, 2, std::vector<std::string>(2, "h")); }).find("one process drives one device"),
            std::string::npos);
}

TEST(LaunchEnv, ReadsMpirunAndSrun) {
  auto env = [](std::map<std::string, std::string> vars) {
    return read_launch_env([vars](const char* name) -> const char* {
      auto it = vars.find(name);
      return it == vars.end() ? nullptr : it->second.c_str();
    });
  };
  EXPECT_EQ(env({}).world_size, 1);
  const LaunchEnv m = env({{"OMPI_COMM_WORLD_SIZE", "3"}, {"OMPI_COMM_WORLD_RANK", "2"}, {"OMPI_MCA_orte_enable_recovery", "1"}});
  EXPECT_EQ(m.launcher, "mpirun");
  EXPECT_EQ(m.world_size, 3);
  EXPECT_EQ(m.rank, 2);
  EXPECT_TRUE(m.recovery);
  const LaunchEnv s = env({{"SLURM_STEP_ID", "0"}, {"SLURM_NTASKS", "4"}, {"SLURM_PROCID", "1"}});
  EXPECT_EQ(s.launcher, "srun");
  EXPECT_EQ(s.world_size, 4);
  EXPECT_EQ(s.rank, 1);
  // An allocation without a step (salloc's shell) is not a launch.
  EXPECT_EQ(env({{"SLURM_NTASKS", "4"}}).world_size, 1);
}

}  // namespace
}  // namespace flowkv::runtime
