// Policy profiles: the scenario settings a global scheduling policy implies, applied to the
// scenario JSON before it is validated.
//
// A baseline is more than its router: `vllm-disagg` is vLLM's paged layout with block-wise
// transfers, `colocated` is every node serving both phases, `flowkv` is FlowKV's layout plus its
// role controller. So that `flowkv compare --policies vllm-disagg,flowkv` compares the systems and
// not only the routers, a policy file may register a profile next to its policy
// (FLOWKV_REGISTER_POLICY_PROFILE). apply_overrides() (core/sched/load_scenario.h) applies the profile of
// policies.global after the command-line flags and the --set assignments, except:
//   - a path that a --set assigned (or a parent of it) is left as the user set it;
//   - "policies": {"profile": false} turns the profile off;
//   - a scenario whose policies.profile already records this policy's profile (a resolved
//     scenario) is not changed again.
// What the profile changed is recorded in policies.profile =
//   {"policy": NAME, "set": {"kv.layout": "paged", ...}}   (only values that differed)
// and therefore appears in the resolved scenario of summary.json.
//
// Profiles register from static objects like policies; lookups only read the registry.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace flowkv::core {

// What a profile function edits through: it records each change it makes and leaves alone the
// paths the user pinned with --set.
class ProfileEditor {
 public:
  ProfileEditor(nlohmann::json& root, std::vector<std::string> pinned);
  // Sets a dotted path ("kv.layout", "cluster.nodes[2].role"); objects on the way are created.
  void set(const std::string& path, const nlohmann::json& value);
  // policies.role := name, keeping its parameters when it already names that policy.
  void set_role_policy(const std::string& name);
  // Every node group's role := role.
  void set_all_node_roles(const std::string& role);
  const nlohmann::json& root() const { return root_; }
  const nlohmann::ordered_json& changes() const { return changes_; }

 private:
  bool pinned(const std::string& path) const;
  nlohmann::json& root_;
  std::vector<std::string> pinned_;
  nlohmann::ordered_json changes_ = nlohmann::ordered_json::object();
};

struct PolicyProfile {
  std::string summary;  // one line for the documentation and `--help`
  std::function<void(ProfileEditor&)> apply;
};

std::map<std::string, PolicyProfile>& policy_profile_registry();

// Applies the profile of root.policies.global (see above). `set_paths` are the paths of the
// --set assignments ("kv.layout=paged" -> "kv.layout"). A no-op for a policy without a profile.
void apply_policy_profile(nlohmann::json& root, const std::vector<std::string>& set_assignments);

struct PolicyProfileRegistrar {
  PolicyProfileRegistrar(const std::string& policy, PolicyProfile profile) {
    policy_profile_registry()[policy] = std::move(profile);
  }
};

#define FLOWKV_PROFILE_CONCAT_INNER(a, b) a##b
#define FLOWKV_PROFILE_CONCAT(a, b) FLOWKV_PROFILE_CONCAT_INNER(a, b)
#define FLOWKV_REGISTER_POLICY_PROFILE(policy, summary, fn)                                   \
  static const ::flowkv::core::PolicyProfileRegistrar FLOWKV_PROFILE_CONCAT(                 \
      flowkv_profile_registrar_, __LINE__)(policy, ::flowkv::core::PolicyProfile{summary, fn})

}  // namespace flowkv::core
