// The "faults" list and the --fault flag: accepted forms, normalisation into the resolved
// scenario, and one clear error (naming the JSON path or the flag) for each kind of mistake.
#include <gtest/gtest.h>

#include <string>

#include "core/base/error.h"
#include "core/sched/load_scenario.h"
#include "core/spec/fault_spec.h"

namespace flowkv::core {
namespace {

using nlohmann::json;

json base() {
  return json::parse(R"({
    "name": "f",
    "cluster": {"nodes": [{"gpu": "H100-SXM", "count": 2, "role": "prefill"},
                          {"gpu": "H100-SXM", "count": 2, "role": "decode"}]},
    "model": "llama-3.1-8b",
    "workload": {"trace": "unused.csv"}
  })");
}

Scenario parse(const json& j) { return parse_scenario(j, "test", "."); }

std::string error_of(const json& j) {
  try {
    parse(j);
  } catch (const Error& e) {
    EXPECT_EQ(e.exit_code(), 2) << e.what();
    return e.what();
  }
  return "(no error)";
}

TEST(FaultSpec, NamesAndIndicesResolveAndSortByTime) {
  json j = base();
  j["faults"] = json::parse(R"([{"node": "D1", "at_s": 2, "for_s": 0.5},
                                {"node": 1, "at_s": 1, "kind": "link-slow", "factor": 0.25},
                                {"node": "P0", "at_s": 1, "kind": "link-down"}])");
  const Scenario s = parse(j);
  ASSERT_EQ(s.faults.size(), 3u);
  EXPECT_EQ(to_int(s.faults[0].node), 1u);  // stable: equal times keep their order
  EXPECT_EQ(s.faults[0].kind, FaultKind::kLinkSlow);
  EXPECT_DOUBLE_EQ(s.faults[0].factor, 0.25);
  EXPECT_FALSE(s.faults[0].duration.has_value());
  EXPECT_EQ(to_int(s.faults[1].node), 0u);
  EXPECT_EQ(s.faults[1].kind, FaultKind::kLinkDown);
  EXPECT_EQ(to_int(s.faults[2].node), 3u);
  EXPECT_EQ(s.faults[2].kind, FaultKind::kCrash);
  EXPECT_EQ(s.faults[2].at, Time::zero() + Duration::seconds(2));
  EXPECT_EQ(*s.faults[2].duration, Duration::millis(500));
  const auto& r = s.resolved["faults"];
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[0]["node"], "P1");
  EXPECT_EQ(r[2]["node"], "D1");
  EXPECT_EQ(r[2]["kind"], "crash");
  EXPECT_EQ(s.resolved["policies"]["recovery"]["name"], "reroute");
}

TEST(FaultSpec, NoFaultsGiveAnEmptyResolvedList) {
  const Scenario s = parse(base());
  EXPECT_TRUE(s.faults.empty());
  EXPECT_TRUE(s.resolved["faults"].empty());
}

TEST(FaultSpec, ErrorsNameTheJsonPath) {
  struct Case {
    const char* faults;
    const char* expected;
  };
  const Case cases[] = {
      {R"({"node": 0})", "faults: expected an array"},
      {R"([{"at_s": 1}])", "faults[0].node: missing"},
      {R"([{"node": 0}])", "faults[0].at_s: missing"},
      {R"([{"node": "X9", "at_s": 1}])", "faults[0].node: expected a node index 0..3 or a node name (P0, P1, D0, D1)"},
      {R"([{"node": 4, "at_s": 1}])", "faults[0].node: expected a node index 0..3"},
      {R"([{"node": -1, "at_s": 1}])", "faults[0].node: expected a node index 0..3"},
      {R"([{"node": 0, "at_s": -1}])", "faults[0].at_s: expected a number in [0, "},
      {R"([{"node": 0, "at_s": 1, "for_s": 0}])", "faults[0].for_s: expected a positive number"},
      {R"([{"node": 0, "at_s": 1, "kind": "melt"}])", "faults[0].kind: expected one of \"crash\""},
      {R"([{"node": 0, "at_s": 1, "kind": "link-slow"}])", "faults[0].factor: missing"},
      {R"([{"node": 0, "at_s": 1, "kind": "link-slow", "factor": 2}])", "faults[0].factor: expected a number in"},
      {R"([{"node": 0, "at_s": 1, "factor": 0.5}])", "faults[0].factor: only a link-slow fault takes a factor"},
      {R"([{"node": 0, "at_s": 1, "when": 2}])", "faults[0].when: unknown key"},
      {R"([{"node": 0, "at_s": 1}, 3])", "faults[1]: expected an object"},
  };
  for (const Case& c : cases) {
    json j = base();
    j["faults"] = json::parse(c.faults);
    const std::string e = error_of(j);
    EXPECT_NE(e.find(c.expected), std::string::npos) << c.faults << "\n  got: " << e;
  }
}

TEST(FaultSpec, RecoveryPolicyIsValidatedByName) {
  json j = base();
  j["policies"]["recovery"] = "pray";
  EXPECT_NE(error_of(j).find("policies.recovery: unknown recovery policy 'pray' (known: fail, reroute)"),
            std::string::npos);
  j["policies"]["recovery"] = json::parse(R"({"name": "reroute", "reprefill_after_transfer_failures": 0})");
  EXPECT_NE(error_of(j).find("policies.recovery.reprefill_after_transfer_failures: expected an integer >= 1"),
            std::string::npos);
  j["policies"]["recovery"] = json::parse(R"({"name": "fail", "x": 1})");
  EXPECT_NE(error_of(j).find("policies.recovery.x: unknown key"), std::string::npos);
}

TEST(FaultSpec, FlagBecomesAFaultAndItsErrorsNameTheFlag) {
  const json f = fault_flag_to_json("node=D0,at=1.5,for=2,kind=link-slow,factor=0.5");
  EXPECT_EQ(f["node"], "D0");
  EXPECT_DOUBLE_EQ(f["at_s"].get<double>(), 1.5);
  EXPECT_DOUBLE_EQ(f["for_s"].get<double>(), 2.0);
  EXPECT_EQ(f["kind"], "link-slow");
  EXPECT_EQ(fault_flag_to_json("node=2,at=0")["node"], 2);

  for (const auto& [text, expected] : std::vector<std::pair<std::string, std::string>>{
           {"node=1", "--fault node=1: at= is missing"},
           {"at=1", "--fault at=1: node= is missing"},
           {"node=1,at=x", "--fault node=1,at=x: at=x: not a number"},
           {"node=1,at=1,", "empty item"},
           {"node=1,at=1,speed=3", "unknown key 'speed'"},
           {"node=1,at=1,at=2", "at given twice"},
           {"node=1,at", "'at' is not key=value"},
       }) {
    try {
      fault_flag_to_json(text);
      ADD_FAILURE() << text << ": no error";
    } catch (const Error& e) {
      EXPECT_EQ(e.exit_code(), 2);
      EXPECT_NE(std::string(e.what()).find(expected), std::string::npos) << text << "\n  got: " << e.what();
    }
  }
  // Errors found once the cluster is known still name the flag, not a JSON path.
  json j = base();
  ScenarioOverrides o;
  o.faults = {"node=Q7,at=1"};
  apply_overrides(j, o);
  EXPECT_NE(error_of(j).find("--fault node=Q7,at=1: node: expected a node index 0..3"), std::string::npos);
  // A flag adds to the scenario's own list; the resolved list does not show where each came from.
  j = base();
  j["faults"] = json::parse(R"([{"node": "P0", "at_s": 3}])");
  o.faults = {"node=D1,at=1,for=1"};
  apply_overrides(j, o);
  const Scenario s = parse(j);
  ASSERT_EQ(s.faults.size(), 2u);
  EXPECT_EQ(to_int(s.faults[0].node), 3u);
  EXPECT_FALSE(s.resolved["faults"][0].contains(kFaultFlagKey));
}

}  // namespace
}  // namespace flowkv::core
