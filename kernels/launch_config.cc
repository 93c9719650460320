#include "kernels/launch_config.h"

#include <cuda_runtime_api.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <utility>

#include "kernels/cuda_check.h"

namespace flowkv::kernels {

int persistent_grid(const void* kernel, int threads, int64_t work_items) {
  // Occupancy and multiprocessor count never change for a (device, kernel); caching them keeps
  // the queries off the launch path of transfers that take a few microseconds.
  static std::mutex mutex;
  static std::map<std::pair<int, const void*>, int> resident_blocks;
  int device = 0;
  FLOWKV_CUDA_CHECK(cudaGetDevice(&device));
  int resident = 0;
  {
    std::lock_guard<std::mutex> lock(mutex);
    auto it = resident_blocks.find({device, kernel});
    if (it != resident_blocks.end()) resident = it->second;
  }
  if (resident == 0) {
    int sms = 0;
    int per_sm = 0;
    FLOWKV_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device));
    FLOWKV_CUDA_CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, threads, 0));
    resident = std::max(1, sms * per_sm);
    std::lock_guard<std::mutex> lock(mutex);
    resident_blocks[{device, kernel}] = resident;
  }
  return static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(resident, work_items)));
}

}  // namespace flowkv::kernels
