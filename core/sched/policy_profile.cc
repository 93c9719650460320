#include "core/sched/policy_profile.h"

#include "core/base/error.h"
#include "core/spec/scenario.h"

namespace flowkv::core {

using nlohmann::json;

std::map<std::string, PolicyProfile>& policy_profile_registry() {
  static std::map<std::string, PolicyProfile> registry;
  return registry;
}

ProfileEditor::ProfileEditor(json& root, std::vector<std::string> pinned)
    : root_(root), pinned_(std::move(pinned)) {}

bool ProfileEditor::pinned(const std::string& path) const {
  for (const std::string& p : pinned_) {
    if (path == p) return true;
    // A parent pinned as a whole ("kv" pins "kv.layout"), or a child pinned ("kv.layout" pins
    // the profile's "kv" object if it ever set one whole).
    for (const auto& [outer, inner] : {std::pair{p, path}, std::pair{path, p}}) {
      if (inner.size() > outer.size() && inner.compare(0, outer.size(), outer) == 0 &&
          (inner[outer.size()] == '.' || inner[outer.size()] == '[')) {
        return true;
      }
    }
  }
  return false;
}

void ProfileEditor::set(const std::string& path, const json& value) {
  if (pinned(path)) return;
  // Edit a copy and keep it only when something changed, to record real changes only.
  json copy = root_;
  apply_set(copy, path + "=" + value.dump());
  if (copy == root_) return;
  root_ = std::move(copy);
  changes_[path] = value;
}

void ProfileEditor::set_role_policy(const std::string& name) {
  const json* policies = root_.is_object() && root_.contains("policies") ? &root_["policies"] : nullptr;
  if (policies && policies->is_object() && policies->contains("role")) {
    const json& role = (*policies)["role"];
    if ((role.is_string() && role == name) ||
        (role.is_object() && role.contains("name") && role["name"] == name)) {
      return;
    }
  }
  set("policies.role", name);
}

void ProfileEditor::set_all_node_roles(const std::string& role) {
  if (!root_.is_object() || !root_.contains("cluster") || !root_["cluster"].is_object()) return;
  if (!root_["cluster"]["nodes"].is_array()) return;
  // set() replaces root_, so look the array up again for every group.
  for (size_t i = 0; i < root_["cluster"]["nodes"].size(); ++i) {
    if (root_["cluster"]["nodes"][i].is_object()) set("cluster.nodes[" + std::to_string(i) + "].role", role);
  }
}

void apply_policy_profile(json& root, const std::vector<std::string>& set_assignments) {
  if (!root.is_object() || !root.contains("policies") || !root["policies"].is_object()) {
    return;  // the default policies have no profile
  }
  json& policies = root["policies"];
  if (policies.contains("profile") && policies["profile"] == false) return;
  std::string name;
  if (policies.contains("global")) {
    const json& g = policies["global"];
    if (g.is_string()) name = g.get<std::string>();
    if (g.is_object() && g.contains("name") && g["name"].is_string()) name = g["name"].get<std::string>();
  }
  // A resolved scenario carries the record of the profile that made it: not again.
  if (policies.contains("profile") && policies["profile"].is_object() &&
      policies["profile"].value("policy", std::string()) == name) {
    return;
  }
  const auto& registry = policy_profile_registry();
  const auto it = registry.find(name);
  if (it == registry.end()) {
    policies.erase("profile");
    return;
  }
  std::vector<std::string> pinned;
  for (const std::string& a : set_assignments) pinned.push_back(a.substr(0, a.find('=')));
  ProfileEditor editor(root, std::move(pinned));
  it->second.apply(editor);
  json record = json::object();
  record["policy"] = name;
  record["set"] = json::object();
  const nlohmann::ordered_json changes = editor.changes();
  for (const auto& [k, v] : changes.items()) record["set"][k] = v;
  root["policies"]["profile"] = std::move(record);
}

}  // namespace flowkv::core
