#include "core/base/repository.h"

#include <cstdlib>
#include <system_error>

#ifndef FLOWKV_SOURCE_DIR
#error "FLOWKV_SOURCE_DIR must be defined (core/CMakeLists.txt does)"
#endif

namespace flowkv::core {

std::filesystem::path repository_dir() {
  if (const char* home = std::getenv("FLOWKV_HOME"); home != nullptr && *home != '\0') return home;
  std::error_code ec;
  const std::filesystem::path built(FLOWKV_SOURCE_DIR);
  if (std::filesystem::is_directory(built / "scenarios", ec)) return built;
  return std::filesystem::current_path(ec);
}

}  // namespace flowkv::core
