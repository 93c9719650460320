// The processes that a command's independent simulations are spread over: this process alone
// (LocalRanks) or the ranks of an MPI launch (tools/flowkv/mpi_ranks.cc, built with MPI only).
// The simulator itself knows nothing of MPI: results travel between ranks as bytes.
//
// Work is split by index: rank r computes the items i with i % size == r. exchange() is
// collective: every rank calls it with the same n, in the same order. A Ranks object is used
// from one thread only (the command's); the items of a rank run on its own threads.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

namespace flowkv::sim {

class Ranks {
 public:
  virtual ~Ranks() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  bool owns(size_t index) const { return index % static_cast<size_t>(size()) == static_cast<size_t>(rank()); }
  bool root() const { return rank() == 0; }

  // `mine`: this rank's results, for the indices it owns in increasing order. Returns the n
  // results in index order, on every rank when `to_all`, else on rank 0 only (the others get an
  // empty vector).
  virtual std::vector<std::string> exchange(size_t n, std::vector<std::string> mine, bool to_all) = 0;
};

class LocalRanks final : public Ranks {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  std::vector<std::string> exchange(size_t n, std::vector<std::string> mine, bool to_all) override;
};

// Computes fn(i) for the indices this rank owns, on up to `jobs` threads of this process, and
// exchanges the results (see Ranks::exchange). An exception thrown by fn travels with the
// results: every rank that receives them rethrows the one of the lowest index (as a core::Error
// of the same kind), so no rank waits for one that failed.
std::vector<std::string> run_on_ranks(Ranks& ranks, size_t n, int jobs, bool to_all,
                                      const std::function<std::string(size_t)>& fn);

}  // namespace flowkv::sim
