// Scenario validation: every mistake is ONE input error (exit code 2) that names the JSON path and
// what was expected; overrides edit the JSON before validation and get the same checks.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "core/base/error.h"
#include "core/sched/load_scenario.h"

namespace flowkv::core {
namespace {

using nlohmann::json;

json good() {
  return json::parse(R"({
    "name": "t",
    "cluster": {"nodes": [{"gpu": "H100-SXM", "count": 2, "role": "prefill"},
                          {"gpu": "H100-SXM", "count": 1, "role": "decode"}], "link": "NVLink4"},
    "model": "llama-3.1-8b",
    "workload": {"trace": "x.csv"}
  })");
}

// The message of the input error parse_scenario throws for `j`, or "" if it parses.
std::string error_of(const json& j) {
  try {
    parse_scenario(j, "test.json", ".");
  } catch (const Error& e) {
    EXPECT_EQ(e.exit_code(), 2) << e.what();
    return e.what();
  }
  return "";
}

json with(const std::string& assignment) {
  json j = good();
  apply_set(j, assignment);
  return j;
}

TEST(Scenario, ParsesAndFillsDefaults) {
  const Scenario s = parse_scenario(good(), "test.json", ".");
  ASSERT_EQ(s.nodes.size(), 3u);
  EXPECT_EQ(s.nodes[0].name, "P0");
  EXPECT_EQ(s.nodes[1].name, "P1");
  EXPECT_EQ(s.nodes[2].name, "D0");
  EXPECT_EQ(s.nodes[2].role, NodeRole::kDecode);
  EXPECT_EQ(s.global.name, "round-robin");
  EXPECT_EQ(s.batch.name, "continuous");
  EXPECT_EQ(s.role.name, "static");
  EXPECT_EQ(s.link.name, "NVLink4");
  // Pool: 80 GiB * 0.9 - weights, in blocks of 16 tokens * 128 KiB.
  const double kv = 80.0 * (1 << 30) * 0.9 - static_cast<double>(s.model.weight_bytes());
  EXPECT_EQ(s.nodes[0].layout.geometry.num_blocks, static_cast<int64_t>(kv / (16.0 * s.model.kv_bytes_per_token())));
  EXPECT_EQ(s.resolved["kv"]["layout"], "contiguous");
  EXPECT_EQ(s.resolved["policies"]["batch"]["name"], "continuous");
  EXPECT_EQ(s.resolved["cluster"]["nodes"].at(0)["kv_blocks_per_node"], s.nodes[0].layout.geometry.num_blocks);
}

TEST(Scenario, ErrorsNameTheJsonPath) {
  const std::pair<std::string, std::string> cases[] = {
      {"cluster.nodes[1].gpu=X", "cluster.nodes[1].gpu: unknown GPU 'X'"},
      {"cluster.nodes[0].role=both", "cluster.nodes[0].role: expected one of \"prefill\", \"decode\", \"colocated\""},
      {"cluster.nodes[0].count=\"two\"", "cluster.nodes[0].count: expected an integer >= 0"},
      {"cluster.nodes[0].cout=3", "cluster.nodes[0].cout: unknown key"},
      {"cluster.link=carrier-pigeon", "cluster.link: unknown link 'carrier-pigeon'"},
      {"cluster.link={\"bytes_per_s\": -1, \"per_call_latency_us\": 1}", "cluster.link.bytes_per_s: expected a positive number"},
      {"cluster.link={\"bytes_per_s\": 1e9}", "cluster.link.per_call_latency_us: missing"},
      {"kv.layout=striped", "kv.layout: expected one of \"paged\""},
      {"kv.allocator=buddy", "kv.allocator:"},
      {"kv.transfer=teleport", "kv.transfer:"},
      {"kv.memory_fraction=1.5", "kv.memory_fraction: expected a number in [0.01, 1]"},
      {"kv.block_size=0", "kv.block_size: expected an integer >= 1"},
      {"model=gpt-17", "model: "},
      {"policies.global=psychic", "policies.global: unknown global scheduler 'psychic' (known: "},
      {"policies.batch.name=greedy", "policies.batch: unknown batch scheduler 'greedy'"},
      {"policies.batch.max_num_seqs=0", "policies.batch.max_num_seqs: expected an integer >= 1"},
      {"policies.batch.order=random", "policies.batch.order: expected \"prefill-first\" or \"decode-first\""},
      {"policies.batch.chunked=true", "policies.batch.chunked: unknown key"},
      {"policies.global={\"name\": 3}", "policies.global.name: expected a string"},
      {"policies.role=elastic-magic", "policies.role: unknown role controller"},
      {"slo.ttft_s=0", "slo.ttft_s: expected a positive number"},
      {"slo.ttft=1", "slo.ttft: unknown key"},
      {"seed=-3", "seed: expected an integer >= 0"},
      {"cost_model.compute_efficiency=2", "cost_model.compute_efficiency: expected a number in"},
      {"kv.num_blocks=100000000", "kv.num_blocks: 100000000 blocks do not fit in cluster.nodes[0]"},
      {"workload=3", "workload: expected an object"},
      {"clutser={}", "clutser: unknown key"},
  };
  for (const auto& [set, expected] : cases) {
    const std::string message = error_of(with(set));
    EXPECT_NE(message.find(expected), std::string::npos) << set << " -> " << message;
  }
}

TEST(Scenario, ImpossibleClustersAreInputErrors) {
  json j = good();
  j["cluster"]["nodes"] = json::parse(R"([{"gpu": "H100-SXM", "count": 2, "role": "prefill"}])");
  EXPECT_NE(error_of(j).find("cluster.nodes: needs at least one"), std::string::npos);
  j["cluster"]["nodes"] = json::array();
  EXPECT_NE(error_of(j).find("cluster.nodes: expected a non-empty array"), std::string::npos);
  // A 70B model does not fit one 80 GB GPU: say so at the node group.
  json big = good();
  big["model"] = "llama-3.1-70b";
  EXPECT_NE(error_of(big).find("cluster.nodes[0]: llama-3.1-70b's weights"), std::string::npos) << error_of(big);
  apply_set(big, "cluster.nodes[0].tensor_parallel=4");
  apply_set(big, "cluster.nodes[1].tensor_parallel=4");
  EXPECT_EQ(error_of(big), "");
}

TEST(Scenario, SetParsesJsonValuesOrTakesStrings) {
  json j = good();
  apply_set(j, "workload.max_requests=100");
  apply_set(j, "policies.global=least-loaded");
  apply_set(j, "kv.transfer=per-layer");
  apply_set(j, "cluster.nodes[1].count=3");
  apply_set(j, "slo={\"ttft_s\": 1.5}");
  EXPECT_EQ(j["workload"]["max_requests"], 100);
  EXPECT_EQ(j["policies"]["global"], "least-loaded");
  EXPECT_EQ(j["cluster"]["nodes"][1]["count"], 3);
  EXPECT_EQ(j["slo"]["ttft_s"], 1.5);
  const Scenario s = parse_scenario(j, "t", ".");
  EXPECT_EQ(s.nodes.size(), 5u);
  EXPECT_EQ(s.transfer, TransferMode::kPerLayer);
  EXPECT_DOUBLE_EQ(s.slo.ttft_s, 1.5);
}

TEST(Scenario, BadSetAssignmentsAreInputErrors) {
  for (const char* bad : {"noequals", "=3", "cluster.nodes[9].count=1", "cluster.nodes[x].count=1",
                          "model.name=3", "a..b=1", "cluster.nodes[0=1"}) {
    json j = good();
    try {
      apply_set(j, bad);
      ADD_FAILURE() << bad << " was accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.exit_code(), 2);
      EXPECT_NE(std::string(e.what()).find("--set"), std::string::npos) << e.what();
    }
  }
}

TEST(Scenario, ShorthandFlagsRewriteTheCluster) {
  json j = good();
  ScenarioOverrides o;
  o.prefill_nodes = 3;
  o.decode_nodes = 0;
  o.colocated_nodes = 2;
  o.gpu = "H200";
  o.policy = "random";
  o.seed = 9;
  o.rate_scale = 2.0;
  o.sets = {"kv.block_size=32"};
  apply_overrides(j, o);
  const Scenario s = parse_scenario(j, "t", ".");
  int p = 0, c = 0, d = 0;
  for (const NodeSpec& n : s.nodes) {
    EXPECT_EQ(n.gpu.name, "H200");
    p += n.role == NodeRole::kPrefill;
    d += n.role == NodeRole::kDecode;
    c += n.role == NodeRole::kColocated;
  }
  EXPECT_EQ(p, 3);
  EXPECT_EQ(d, 0);
  EXPECT_EQ(c, 2);
  EXPECT_EQ(s.global.name, "random");
  EXPECT_EQ(s.seed, 9u);
  EXPECT_EQ(s.block_size, 32);
  EXPECT_EQ(s.workload["rate_scale"], 2.0);
}

TEST(Scenario, ACreatedRoleGroupKeepsTheScenariosGpu) {
  // Turning a 1P1D H200 scenario colocated from the flags: the new group is an H200 too, not the
  // catalogue default, although the prefill and decode groups are dropped first.
  json j = good();
  j["cluster"]["nodes"] = json::parse(R"([{"gpu": "H200", "count": 1, "role": "prefill"},
                                          {"gpu": "H200", "count": 1, "role": "decode"}])");
  ScenarioOverrides o;
  o.prefill_nodes = 0;
  o.decode_nodes = 0;
  o.colocated_nodes = 1;
  apply_overrides(j, o);
  const Scenario s = parse_scenario(j, "t", ".");
  ASSERT_EQ(s.nodes.size(), 1u);
  EXPECT_EQ(s.nodes[0].role, NodeRole::kColocated);
  EXPECT_EQ(s.nodes[0].gpu.name, "H200");
}

TEST(Scenario, FileErrorsNameTheFileAndLine) {
  const auto dir = std::filesystem::temp_directory_path();
  const auto path = dir / "flowkv_bad_scenario.json";
  {
    std::ofstream out(path);
    out << "{\n  \"name\": \"x\",\n  \"model\": ,\n}\n";
  }
  try {
    load_scenario(path);
    ADD_FAILURE() << "accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(path.string() + ":3: not valid JSON"), std::string::npos) << e.what();
  }
  std::filesystem::remove(path);
  try {
    load_scenario("/nonexistent/scenario.json");
    ADD_FAILURE() << "accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.exit_code(), 2);
    EXPECT_NE(std::string(e.what()).find("not found"), std::string::npos) << e.what();
  }
}

TEST(Scenario, ShippedScenariosParse) {
  for (const char* name : {"default", "colocated", "synthetic"}) {
    const Scenario s = load_scenario(name);
    EXPECT_EQ(s.name, name);
    EXPECT_FALSE(s.nodes.empty());
  }
}

}  // namespace
}  // namespace flowkv::core
