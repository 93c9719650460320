// Figures of the live control and data planes between ranks (docs/live.md, "Across processes
// and hosts"; run under mpirun with 2 ranks, e.g.
//   mpirun --oversubscribe -n 2 build/bench/live_mpi_bench [--json FILE] [--works N]):
//
//   control-plane round trip per Work   rank 0 sends an encoded iteration job (a decode batch of
//                                       16 requests, 64 blocks each: what an iteration of a
//                                       mid-size batch carries) through its ControlPlane; rank 1's
//                                       plane answers with an encoded result at once. Round
//                                       trips in microseconds: mean, p50, p90, p99, one at a time.
//   KV bytes/s between CPU ranks        MpiTransport: rank 0 sends, rank 1 receives a 64 MiB pool
//                                       range cut into copies of 16 KiB (one tiny-llama block
//                                       per copy, a per-block plan), 256 KiB and 4 MiB (merged
//                                       plans); GB/s = bytes / time from submit to both done.
//                                       Beside it, HostCopyTransport's memcpy in one process.
// Prints the figures; never passes or fails on time.
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/cpu/host_copy_transport.h"
#include "runtime/mpi/control_plane.h"
#include "runtime/mpi/mpi_session.h"
#include "runtime/mpi/mpi_transport.h"
#include "runtime/mpi/wire.h"

using namespace flowkv;
using namespace flowkv::runtime;
using Clock = std::chrono::steady_clock;

namespace {

double percentile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  return v[static_cast<size_t>(q * static_cast<double>(v.size() - 1))];
}

IterationJob decode_batch() {
  IterationJob job;
  job.node = 1;
  for (int i = 0; i < 16; ++i) {
    job.items.push_back({static_cast<uint64_t>(i), 1000, 1, 64, true});
    job.tokens.push_back(i);
    for (int b = 0; b < 64; ++b) job.blocks.push_back(i * 64 + b);
  }
  return job;
}

nlohmann::json round_trips(MpiSession& s, int works) {
  std::mutex mu;
  std::condition_variable cv;
  int answered = 0;
  ControlPlane* plane_ptr = nullptr;
  ControlPlane plane(
      s.control(),
      [&](int source, const wire::Bytes& m) {
        wire::Reader r(m);
        if (r.kind() == wire::Kind::kIteration) {  // rank 1: answer at once
          IterationJob job = wire::decode_iteration(r);
          JobResult res;
          res.work = job.work;
          res.next.assign(job.items.size(), 1);
          plane_ptr->send(source, wire::encode(res));
        } else if (r.kind() == wire::Kind::kResult) {
          std::lock_guard<std::mutex> lock(mu);
          ++answered;
          cv.notify_all();
        }
      },
      [] {}, [](const std::string& e) { std::fprintf(stderr, "plane: %s\n", e.c_str()); });
  plane_ptr = &plane;
  nlohmann::json out;
  if (s.rank() == 0) {
    IterationJob job = decode_batch();
    std::vector<double> us;
    for (int i = 0; i < works + 50; ++i) {
      job.work = static_cast<uint64_t>(i);
      const auto t0 = Clock::now();
      plane.send(1, wire::encode(job));
      std::unique_lock<std::mutex> lock(mu);
      cv.wait(lock, [&] { return answered == i + 1; });
      if (i >= 50) us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
    }
    double mean = 0;
    for (double u : us) mean += u / static_cast<double>(us.size());
    out = {{"works", works}, {"job_bytes", wire::encode(job).size()}, {"mean_us", mean},
           {"p50_us", percentile(us, 0.5)}, {"p90_us", percentile(us, 0.9)}, {"p99_us", percentile(us, 0.99)}};
    std::printf("control-plane round trip per Work (%zu-byte job, %d works): mean %.1f us, p50 %.1f, p90 %.1f, p99 %.1f\n",
                wire::encode(job).size(), works, mean, percentile(us, 0.5), percentile(us, 0.9), percentile(us, 0.99));
  }
  // Both ranks wait for each other before the plane goes (rank 1 must answer the last job).
  MPI_Request r;
  MPI_Ibarrier(s.data(), &r);
  wait_request(r, core::Duration::seconds(60), "meet after the round trips");
  plane.stop(core::Duration::seconds(1));
  return out;
}

nlohmann::json bandwidth(MpiSession& s) {
  const int64_t total = int64_t{64} << 20;
  std::vector<std::byte> pool(static_cast<size_t>(total)), other(static_cast<size_t>(total));
  for (size_t i = 0; i < pool.size(); i += 4096) pool[i] = std::byte{static_cast<unsigned char>(i >> 12)};
  nlohmann::json rows = nlohmann::json::array();
  MpiTransport tr(s.data(), s.tag_ub());
  uint64_t tag = 1;
  for (const int64_t piece : {int64_t{16} << 10, int64_t{256} << 10, int64_t{4} << 20}) {
    std::vector<core::Copy> copies;
    for (int64_t at = 0; at < total; at += piece) copies.push_back({at, at, piece});
    std::vector<double> seconds;
    for (int rep = 0; rep < 6; ++rep) {
      MPI_Request r;
      MPI_Ibarrier(s.data(), &r);
      wait_request(r, core::Duration::seconds(60), "meet before a transfer");
      TransferDesc d;
      d.copies = copies;
      d.peer = 1 - s.rank();
      d.tag = tag++;
      if (s.rank() == 0) d.src = pool.data(); else d.dst = other.data();
      const auto t0 = Clock::now();
      const TransferId id = tr.submit(std::move(d));
      const TransferState st = tr.wait(id, core::Duration::seconds(60));
      tr.release(id);
      double took = std::chrono::duration<double>(Clock::now() - t0).count();
      if (st != TransferState::kCompleted) std::fprintf(stderr, "transfer %s\n", to_string(st));
      // The transfer's time is the later side's.
      double both = 0;
      MPI_Request q;
      MPI_Iallreduce(&took, &both, 1, MPI_DOUBLE, MPI_MAX, s.data(), &q);
      wait_request(q, core::Duration::seconds(60), "agree on the time");
      if (rep > 0) seconds.push_back(both);
    }
    if (s.rank() == 1 && std::memcmp(pool.data(), other.data(), pool.size()) != 0) {
      std::fprintf(stderr, "live_mpi_bench: the received bytes differ from the sent ones\n");
    }
    std::fill(other.begin(), other.end(), std::byte{0});
    const double best = *std::min_element(seconds.begin(), seconds.end());
    const double med = percentile(seconds, 0.5);
    HostCopyTransport host;
    TransferDesc hd;
    hd.src = pool.data();
    hd.dst = other.data();
    hd.copies = copies;
    const auto h0 = Clock::now();
    host.release(host.submit(std::move(hd)));
    const double host_s = std::chrono::duration<double>(Clock::now() - h0).count();
    if (s.rank() == 0) {
      std::printf("KV between CPU ranks (MPI), %lld-byte copies x %zu: %.2f GB/s median (%.2f best); "
                  "memcpy in one process: %.2f GB/s\n",
                  static_cast<long long>(piece), copies.size(), static_cast<double>(total) / med / 1e9,
                  static_cast<double>(total) / best / 1e9, static_cast<double>(total) / host_s / 1e9);
      rows.push_back({{"copy_bytes", piece}, {"copies", copies.size()}, {"bytes", total},
                      {"median_gb_per_s", static_cast<double>(total) / med / 1e9},
                      {"best_gb_per_s", static_cast<double>(total) / best / 1e9},
                      {"memcpy_gb_per_s", static_cast<double>(total) / host_s / 1e9}});
    }
  }
  return rows;
}

}  // namespace

int main(int argc, char** argv) {
  std::string json_path;
  int works = 2000;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--json" && i + 1 < argc) json_path = argv[++i];
    else if (a == "--works" && i + 1 < argc) works = std::max(10, std::atoi(argv[++i]));
    else {
      std::fprintf(stderr, "usage: mpirun -n 2 live_mpi_bench [--json FILE] [--works N]\n");
      return 2;
    }
  }
  MpiSession s(core::Duration::seconds(60));
  if (s.size() != 2) {
    if (s.rank() == 0) std::fprintf(stderr, "live_mpi_bench: run it with 2 ranks (mpirun -n 2), not %d\n", s.size());
    s.finalize();
    return 2;
  }
  nlohmann::json out;
  out["hosts"] = s.hosts();
  out["round_trip"] = round_trips(s, works);
  out["kv_between_ranks"] = bandwidth(s);
  if (s.rank() == 0 && !json_path.empty()) std::ofstream(json_path) << out.dump(2) << "\n";
  s.finalize();
  return 0;
}
