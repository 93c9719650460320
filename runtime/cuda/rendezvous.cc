#include "runtime/cuda/rendezvous.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fcntl.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <thread>

#include "core/base/error.h"

namespace flowkv::runtime {
namespace {

using Clock = std::chrono::steady_clock;

[[noreturn]] void fail(const std::string& what) {
  throw core::Error(core::ErrorKind::kRuntime, "rendezvous: " + what);
}
[[noreturn]] void fail_errno(const std::string& what) {
  fail(what + ": " + std::strerror(errno));
}

class Socket {
 public:
  explicit Socket(int fd = -1) : fd_(fd) {}
  ~Socket() {
    if (fd_ >= 0) ::close(fd_);
  }
  Socket(Socket&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  Socket& operator=(Socket&& o) noexcept {
    std::swap(fd_, o.fd_);
    return *this;
  }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  int fd() const { return fd_; }

 private:
  int fd_;
};

int remaining_ms(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() <= 0 ? 0 : static_cast<int>(std::min<int64_t>(left.count(), 1 << 30));
}

void wait_ready(int fd, short events, Clock::time_point deadline, const char* what) {
  for (;;) {
    pollfd p{fd, events, 0};
    const int r = ::poll(&p, 1, remaining_ms(deadline));
    if (r > 0) return;
    if (r == 0) fail(std::string("timed out while waiting to ") + what);
    if (errno != EINTR) fail_errno(std::string("poll while waiting to ") + what);
  }
}

void send_all(int fd, const void* data, size_t bytes, Clock::time_point deadline) {
  const char* p = static_cast<const char*>(data);
  while (bytes > 0) {
    wait_ready(fd, POLLOUT, deadline, "send");
    const ssize_t n = ::send(fd, p, bytes, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      fail_errno("send");
    }
    p += n;
    bytes -= static_cast<size_t>(n);
  }
}

void recv_all(int fd, void* data, size_t bytes, Clock::time_point deadline) {
  char* p = static_cast<char*>(data);
  while (bytes > 0) {
    wait_ready(fd, POLLIN, deadline, "receive");
    const ssize_t n = ::recv(fd, p, bytes, 0);
    if (n == 0) fail("peer closed the connection early");
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      fail_errno("recv");
    }
    p += n;
    bytes -= static_cast<size_t>(n);
  }
}

int parse_int(const char* text, const char* name, int lo, int hi) {
  char* end = nullptr;
  errno = 0;
  const long v = std::strtol(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || v < lo || v > hi) {
    core::throw_input_error(std::string("environment variable ") + name + "='" + text +
                            "': expected an integer in [" + std::to_string(lo) + ", " +
                            std::to_string(hi) + "]");
  }
  return static_cast<int>(v);
}

void serve(const RankInfo& info, std::span<const std::byte> blob, Clock::time_point deadline) {
  Socket listener(::socket(AF_INET6, SOCK_STREAM, 0));
  bool v6 = listener.fd() >= 0;
  if (!v6) listener = Socket(::socket(AF_INET, SOCK_STREAM, 0));
  if (listener.fd() < 0) fail_errno("socket");
  const int one = 1;
  ::setsockopt(listener.fd(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  int rc;
  if (v6) {
    const int zero = 0;  // accept IPv4 too
    ::setsockopt(listener.fd(), IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
    sockaddr_in6 addr{};
    addr.sin6_family = AF_INET6;
    addr.sin6_addr = in6addr_any;
    addr.sin6_port = htons(static_cast<uint16_t>(info.master_port));
    rc = ::bind(listener.fd(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  } else {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_ANY);
    addr.sin_port = htons(static_cast<uint16_t>(info.master_port));
    rc = ::bind(listener.fd(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  }
  if (rc != 0) fail_errno("bind to port " + std::to_string(info.master_port));
  if (::listen(listener.fd(), info.world_size) != 0) fail_errno("listen");
  std::vector<bool> seen(static_cast<size_t>(info.world_size), false);
  const uint32_t size = static_cast<uint32_t>(blob.size());
  for (int accepted = 1; accepted < info.world_size; ++accepted) {
    wait_ready(listener.fd(), POLLIN, deadline, "accept the other ranks");
    Socket peer(::accept(listener.fd(), nullptr, nullptr));
    if (peer.fd() < 0) fail_errno("accept");
    int32_t rank = -1;
    recv_all(peer.fd(), &rank, sizeof(rank), deadline);
    if (rank <= 0 || rank >= info.world_size || seen[static_cast<size_t>(rank)]) {
      fail("unexpected rank " + std::to_string(rank) + " connected (world size " +
           std::to_string(info.world_size) + ")");
    }
    seen[static_cast<size_t>(rank)] = true;
    send_all(peer.fd(), &size, sizeof(size), deadline);
    send_all(peer.fd(), blob.data(), blob.size(), deadline);
  }
}

// Non-blocking connect, so an unreachable address cannot block past the deadline (a blocking
// connect waits for the kernel's SYN timeout, minutes).
bool connect_before(int fd, const addrinfo* a, Clock::time_point deadline) {
  const int flags = ::fcntl(fd, F_GETFL, 0);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0) fail_errno("fcntl");
  if (::connect(fd, a->ai_addr, a->ai_addrlen) == 0) return true;
  if (errno != EINPROGRESS) return false;
  pollfd p{fd, POLLOUT, 0};
  if (::poll(&p, 1, std::min(remaining_ms(deadline), 1000)) <= 0) return false;
  int err = 0;
  socklen_t len = sizeof(err);
  return ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0;
}

std::vector<std::byte> fetch(const RankInfo& info, Clock::time_point deadline) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const std::string port = std::to_string(info.master_port);
  const int gai = ::getaddrinfo(info.master_addr.c_str(), port.c_str(), &hints, &found);
  if (gai != 0) fail("cannot resolve MASTER_ADDR '" + info.master_addr + "': " + gai_strerror(gai));
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> guard(found, ::freeaddrinfo);
  // Rank 0 may not listen yet: retry until the deadline.
  for (;;) {
    for (addrinfo* a = found; a; a = a->ai_next) {
      Socket s(::socket(a->ai_family, a->ai_socktype, a->ai_protocol));
      if (s.fd() < 0) continue;
      if (!connect_before(s.fd(), a, deadline)) continue;
      const int32_t rank = info.rank;
      send_all(s.fd(), &rank, sizeof(rank), deadline);
      uint32_t size = 0;
      recv_all(s.fd(), &size, sizeof(size), deadline);
      if (size > (1u << 20)) fail("rank 0 announced an implausible blob of " + std::to_string(size) + " bytes");
      std::vector<std::byte> blob(size);
      recv_all(s.fd(), blob.data(), blob.size(), deadline);
      return blob;
    }
    if (Clock::now() >= deadline) {
      fail("timed out connecting to rank 0 at " + info.master_addr + ":" + port);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

}  // namespace

RankInfo rank_info_from_env(const std::function<const char*(const char*)>& getenv) {
  RankInfo info;
  const char* world = getenv("WORLD_SIZE");
  const char* rank = getenv("RANK");
  if (world) info.world_size = parse_int(world, "WORLD_SIZE", 1, 1 << 16);
  if (rank) info.rank = parse_int(rank, "RANK", 0, 1 << 16);
  if (info.rank >= info.world_size) {
    core::throw_input_error("environment: RANK=" + std::to_string(info.rank) +
                            " must be below WORLD_SIZE=" + std::to_string(info.world_size));
  }
  if (const char* addr = getenv("MASTER_ADDR")) {
    if (*addr == '\0') core::throw_input_error("environment variable MASTER_ADDR is empty");
    info.master_addr = addr;
  }
  if (const char* port = getenv("MASTER_PORT")) info.master_port = parse_int(port, "MASTER_PORT", 1, 65535);
  return info;
}

RankInfo rank_info_from_env() {
  return rank_info_from_env([](const char* name) { return std::getenv(name); });
}

std::vector<std::byte> broadcast_from_rank0(const RankInfo& info, std::span<const std::byte> blob,
                                            core::Duration timeout) {
  if (info.world_size <= 1) return {blob.begin(), blob.end()};
  const auto deadline = Clock::now() + std::chrono::nanoseconds(timeout.ns());
  if (info.rank == 0) {
    serve(info, blob, deadline);
    return {blob.begin(), blob.end()};
  }
  return fetch(info, deadline);
}

}  // namespace flowkv::runtime
