// Ranks find each other from RANK / WORLD_SIZE / MASTER_ADDR / MASTER_PORT: bad values are one
// clear input error naming the variable; rank 0's blob reaches every rank over TCP; a rank whose
// master never appears fails at its deadline instead of hanging. No GPU needed.
#include <gtest/gtest.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <future>
#include <map>
#include <string>
#include <thread>

#include "core/base/error.h"
#include "runtime/cuda/rendezvous.h"

namespace flowkv::runtime {
namespace {

RankInfo from(const std::map<std::string, std::string>& env) {
  return rank_info_from_env([&](const char* name) -> const char* {
    auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  });
}

TEST(RankInfoFromEnv, DefaultsToASingleRank) {
  const RankInfo r = from({});
  EXPECT_EQ(r.rank, 0);
  EXPECT_EQ(r.world_size, 1);
}

TEST(RankInfoFromEnv, ReadsAllFourVariables) {
  const RankInfo r = from({{"RANK", "1"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "10.0.0.7"}, {"MASTER_PORT", "29511"}});
  EXPECT_EQ(r.rank, 1);
  EXPECT_EQ(r.world_size, 2);
  EXPECT_EQ(r.master_addr, "10.0.0.7");
  EXPECT_EQ(r.master_port, 29511);
}

TEST(RankInfoFromEnv, BadValuesNameTheVariable) {
  const std::vector<std::pair<std::map<std::string, std::string>, std::string>> cases = {
      {{{"RANK", "x"}, {"WORLD_SIZE", "2"}}, "RANK"},
      {{{"RANK", "2"}, {"WORLD_SIZE", "2"}}, "RANK=2"},
      {{{"WORLD_SIZE", "0"}}, "WORLD_SIZE"},
      {{{"MASTER_PORT", "70000"}}, "MASTER_PORT"},
      {{{"MASTER_ADDR", ""}}, "MASTER_ADDR"},
  };
  for (const auto& [env, name] : cases) {
    try {
      from(env);
      FAIL() << "accepted a bad " << name;
    } catch (const core::Error& e) {
      EXPECT_EQ(e.kind(), core::ErrorKind::kInvalidInput);
      EXPECT_NE(std::string(e.what()).find(name), std::string::npos) << e.what();
    }
  }
}

// A port that was free a moment ago (the kernel picks it).
int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

TEST(BroadcastFromRank0, EveryRankReceivesRankZerosBlob) {
  const int port = free_port();
  const int world = 4;
  std::vector<std::byte> blob(128);
  for (size_t i = 0; i < blob.size(); ++i) blob[i] = static_cast<std::byte>(i * 7 + 3);
  std::vector<std::future<std::vector<std::byte>>> ranks;
  // Others start first: they must retry until rank 0 listens.
  for (int r = world - 1; r >= 0; --r) {
    ranks.push_back(std::async(std::launch::async, [=] {
      RankInfo info{r, world, "127.0.0.1", port};
      if (r == 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
      const std::vector<std::byte> mine = r == 0 ? blob : std::vector<std::byte>(5);
      return broadcast_from_rank0(info, mine, core::Duration::seconds(20));
    }));
  }
  for (auto& f : ranks) EXPECT_EQ(f.get(), blob);
}

TEST(BroadcastFromRank0, SingleRankOpensNoSocket) {
  const std::vector<std::byte> blob(16, std::byte{9});
  EXPECT_EQ(broadcast_from_rank0(RankInfo{}, blob, core::Duration::millis(1)), blob);
}

TEST(BroadcastFromRank0, MissingMasterFailsAtTheDeadline) {
  RankInfo info{1, 2, "127.0.0.1", free_port()};  // nobody listens there
  const auto start = std::chrono::steady_clock::now();
  try {
    broadcast_from_rank0(info, {}, core::Duration::millis(300));
    FAIL() << "connected to nobody";
  } catch (const core::Error& e) {
    EXPECT_EQ(e.kind(), core::ErrorKind::kRuntime);
    EXPECT_NE(std::string(e.what()).find("timed out"), std::string::npos) << e.what();
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
}

}  // namespace
}  // namespace flowkv::runtime
