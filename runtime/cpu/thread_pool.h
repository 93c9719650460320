// ThreadPool: a node's compute threads, owned by its executor.
//
// parallel_for(n, fn) runs fn(i) for every i in [0, n) on the pool's threads and the calling
// thread, and returns when all are done. Tasks are handed out one at a time from a shared
// counter, so which thread runs a task varies between calls: callers make each task write its
// own outputs with arithmetic that does not depend on the thread (the executor's token-equality
// contract rests on this). A pool of 1 thread runs everything on the caller.
//
// Lifecycle: the workers start in the constructor and are joined in the destructor.
// Threading: parallel_for is called from one thread at a time (the node's worker); it must not
// be called from inside a task. An exception thrown by a task is rethrown by parallel_for after
// every started task has finished (the first one wins; the remaining tasks are skipped).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace flowkv::runtime {

class ThreadPool {
 public:
  explicit ThreadPool(int32_t threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int32_t threads() const { return static_cast<int32_t>(workers_.size()) + 1; }
  void parallel_for(int64_t n, const std::function<void(int64_t)>& fn);

 private:
  void worker_loop();
  // Runs tasks of the current job until none is left.
  void drain();

  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_;   // a job was posted, or the pool stops
  std::condition_variable done_;   // a worker left the current job
  const std::function<void(int64_t)>* job_ = nullptr;
  int64_t job_size_ = 0;
  int64_t next_task_ = 0;          // guarded by mutex_
  uint64_t generation_ = 0;        // bumped per job so a worker joins each job once
  int32_t busy_workers_ = 0;
  std::exception_ptr error_;
  bool stop_ = false;
};

}  // namespace flowkv::runtime
