// Where the shipped scenarios, model configs and sample traces are found by name: $FLOWKV_HOME
// when set, else the source tree the binary was built from (when it still exists), else the
// current directory. So a binary carried to another machine finds them when run from a checkout.
#pragma once

#include <filesystem>

namespace flowkv::core {

std::filesystem::path repository_dir();

}  // namespace flowkv::core
