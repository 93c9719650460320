// The scenario override flags that `flowkv simulate`, `compare` and `sweep` share, defined once:
//   --trace FILE --trace-format F --model NAME --gpu NAME --prefill-nodes N --decode-nodes M
//   --colocated-nodes K [--policy NAME] --rate-scale X --seed S --cost-profile FILE
//   --set json.path=value...
//   --fault SPEC...
// (docs/simulator.md, "Command line"). compare and sweep pick the policy themselves, so they
// leave --policy out.
#pragma once

#include "core/spec/scenario.h"
#include "tools/flowkv/command.h"

namespace flowkv::cli {

void add_scenario_flags(po::options_description& opts, bool with_policy);
// The overrides the flags given in `vm` ask for; bad values are input errors naming the flag.
core::ScenarioOverrides read_scenario_flags(const po::variables_map& vm);

// For usage lines.
extern const char* const kScenarioFlagsUsage;  // without --policy

}  // namespace flowkv::cli
