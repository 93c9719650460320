// Worker: one thread running jobs in the order they were posted (a node's iterations, or the
// transfers it sends). Jobs must not throw (they report failures through their own results).
// post() may be called from any thread; the destructor finishes the job running, drops the
// rest and joins.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace flowkv::runtime {

class Worker {
 public:
  explicit Worker(std::string name);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  void post(std::function<void()> job);
  const std::string& name() const { return name_; }

 private:
  void loop();

  std::string name_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace flowkv::runtime
