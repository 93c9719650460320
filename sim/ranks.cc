#include "sim/ranks.h"

#include <exception>

#include "core/base/error.h"
#include "sim/compare.h"

namespace flowkv::sim {
namespace {

// A result is one tag byte and its payload: 'K' a result, 'I' an input error (exit 2), 'E'
// another error (exit 1) with its message.
std::string ok(std::string payload) { return 'K' + std::move(payload); }

}  // namespace

std::vector<std::string> LocalRanks::exchange(size_t n, std::vector<std::string> mine, bool) {
  FLOWKV_CHECK(mine.size() == n, "a single rank owns every index");
  return mine;
}

std::vector<std::string> run_on_ranks(Ranks& ranks, size_t n, int jobs, bool to_all,
                                      const std::function<std::string(size_t)>& fn) {
  std::vector<size_t> owned;
  for (size_t i = 0; i < n; ++i) {
    if (ranks.owns(i)) owned.push_back(i);
  }
  std::vector<std::string> mine(owned.size());
  // run_parallel stops at the first error; here every item runs so that each rank's share is
  // complete, and the error goes to the others as a result.
  run_parallel(owned.size(), jobs, [&](size_t k) {
    try {
      mine[k] = ok(fn(owned[k]));
    } catch (const core::Error& e) {
      mine[k] = (e.exit_code() == 2 ? 'I' : 'E') + std::string(e.what());
    } catch (const std::exception& e) {
      mine[k] = 'E' + std::string(e.what());
    }
  });
  std::vector<std::string> all = ranks.exchange(n, std::move(mine), to_all);
  for (std::string& r : all) {
    FLOWKV_CHECK(!r.empty(), "an empty result came back from a rank");
    if (r[0] == 'I') core::throw_input_error(r.substr(1));
    if (r[0] == 'E') throw core::Error(core::ErrorKind::kInternal, r.substr(1));
    r.erase(0, 1);
  }
  return all;
}

}  // namespace flowkv::sim
