#include "traces/text_scan.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <system_error>

#include "core/base/error.h"

namespace flowkv::traces::detail {

FileBuffer read_whole_file(const std::filesystem::path& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    core::throw_input_error(path.string() + ": is a directory, expected a trace file");
  }
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    core::throw_input_error(path.string() + ": cannot open the trace file (" +
                            std::generic_category().message(errno) + ")");
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    core::throw_input_error(path.string() + ": cannot read the trace file (" +
                            std::generic_category().message(errno) + ")");
  }
  if (S_ISREG(st.st_mode) && st.st_size > 0) {
    const size_t size = static_cast<size_t>(st.st_size);
    void* m = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
    if (m != MAP_FAILED) {
      ::close(fd);
      return FileBuffer(m, size);
    }
    // Not mappable (some network or special file systems): read it instead.
  }
  // st_size is a hint: read until EOF so files that grow or report no size (pipes) still work.
  size_t capacity = st.st_size > 0 ? static_cast<size_t>(st.st_size) + 1 : 1 << 16;
  auto data = std::make_unique_for_overwrite<char[]>(capacity);
  size_t size = 0;
  for (;;) {
    if (size == capacity) {
      auto bigger = std::make_unique_for_overwrite<char[]>(capacity * 2);
      std::memcpy(bigger.get(), data.get(), size);
      data = std::move(bigger);
      capacity *= 2;
    }
    const ssize_t n = ::read(fd, data.get() + size, capacity - size);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      core::throw_input_error(path.string() + ": cannot read the trace file (" +
                              std::generic_category().message(err) + ")");
    }
    size += static_cast<size_t>(n);
  }
  ::close(fd);
  return FileBuffer(std::move(data), size);
}

FileBuffer::~FileBuffer() {
  if (mapping_) ::munmap(mapping_, size_);
}

void advise_huge_pages(void* data, size_t bytes) {
#ifdef MADV_HUGEPAGE
  constexpr uintptr_t kHuge = uintptr_t{2} << 20;
  const uintptr_t begin = (reinterpret_cast<uintptr_t>(data) + kHuge - 1) & ~(kHuge - 1);
  const uintptr_t end = (reinterpret_cast<uintptr_t>(data) + bytes) & ~(kHuge - 1);
  if (end > begin) ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);
#endif
}

bool LineReader::next(std::string_view& line) {
  if (pos_ >= text_.size()) return false;
  const char* begin = text_.data() + pos_;
  const void* nl = std::memchr(begin, '\n', text_.size() - pos_);
  size_t len = nl ? static_cast<size_t>(static_cast<const char*>(nl) - begin) : text_.size() - pos_;
  pos_ += len + (nl ? 1 : 0);
  if (len > 0 && begin[len - 1] == '\r') --len;
  line = std::string_view(begin, len);
  ++line_number_;
  return true;
}

bool split_csv(std::string_view line, std::vector<std::string_view>& fields) {
  fields.clear();
  size_t pos = 0;
  for (;;) {
    if (pos < line.size() && line[pos] == '"') {
      // Quoted field: ends at a quote not followed by another quote.
      size_t end = pos + 1;
      for (;;) {
        end = line.find('"', end);
        if (end == std::string_view::npos) return false;
        if (end + 1 < line.size() && line[end + 1] == '"') {
          end += 2;
          continue;
        }
        break;
      }
      fields.push_back(line.substr(pos + 1, end - pos - 1));
      pos = end + 1;
      if (pos >= line.size()) return true;
      if (line[pos] != ',') return false;  // text after the closing quote
      ++pos;
      continue;
    }
    const void* comma = std::memchr(line.data() + pos, ',', line.size() - pos);
    if (!comma) {
      fields.push_back(line.substr(pos));
      return true;
    }
    const size_t end = static_cast<size_t>(static_cast<const char*>(comma) - line.data());
    fields.push_back(line.substr(pos, end - pos));
    pos = end + 1;
  }
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool parse_int64(std::string_view s, int64_t& value) {
  s = trim(s);
  if (s.empty()) return false;
  const char* first = s.data();
  if (*first == '+') ++first;  // from_chars rejects a leading '+'
  const char* last = s.data() + s.size();
  auto [ptr, ec] = std::from_chars(first, last, value);
  if (ec != std::errc()) return false;
  if (ptr == last) return true;
  // An integral float such as "12.0" or "12.": accept only zeros after the point.
  if (*ptr != '.') return false;
  for (++ptr; ptr != last; ++ptr) {
    if (*ptr != '0') return false;
  }
  return true;
}

namespace {

// "1,200" or "12,345,678": digit groups of three after a first group of one to three digits, as
// spreadsheet exports write numbers inside quoted CSV fields.
bool parse_grouped_count(std::string_view s, int64_t& value) {
  const size_t first_comma = s.find(',');
  if (first_comma == 0 || first_comma > 3 || (s.size() - first_comma) % 4 != 0) return false;
  int64_t v = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    const bool comma_slot = i >= first_comma && (i - first_comma) % 4 == 0;
    if (comma_slot != (s[i] == ',')) return false;
    if (comma_slot) continue;
    if (s[i] < '0' || s[i] > '9' || v > (INT64_MAX - 9) / 10) return false;
    v = v * 10 + (s[i] - '0');
  }
  value = v;
  return true;
}

}  // namespace

bool parse_count(std::string_view s, int64_t& value) {
  if (parse_int64(s, value)) return value >= 0;
  s = trim(s);
  return s.find(',') != std::string_view::npos && parse_grouped_count(s, value);
}

bool parse_uint64(std::string_view s, uint64_t& value) {
  s = trim(s);
  if (s.empty()) return false;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  return ec == std::errc() && ptr == s.data() + s.size();
}

bool parse_double(std::string_view s, double& value) {
  s = trim(s);
  if (s.empty()) return false;
  const char* first = s.data();
  if (*first == '+') ++first;
  auto [ptr, ec] = std::from_chars(first, s.data() + s.size(), value);
  return ec == std::errc() && ptr == s.data() + s.size() && std::isfinite(value);
}

namespace {

constexpr int64_t kPow10[] = {1,      10,      100,      1000,      10000,
                              100000, 1000000, 10000000, 100000000, 1000000000};

// Reads exactly `n` digits at s[pos..]; false if any is not a digit.
bool fixed_digits(std::string_view s, size_t pos, size_t n, int& value) {
  if (pos + n > s.size()) return false;
  value = 0;
  for (size_t i = 0; i < n; ++i) {
    const char c = s[pos + i];
    if (c < '0' || c > '9') return false;
    value = value * 10 + (c - '0');
  }
  return true;
}

bool is_leap(int year) { return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0; }

// Days from 1970-01-01 to the given civil date (proleptic Gregorian).
int64_t days_since_epoch(int year, int month, int day) {
  static constexpr int kDaysBeforeMonth[] = {0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334};
  const int64_t y = year - 1;
  const int64_t days_before_year = 365 * y + y / 4 - y / 100 + y / 400;  // since 0001-01-01
  constexpr int64_t kEpochDays = 719162;  // days_before_year for 1970
  const int64_t leap_day = (month > 2 && is_leap(year)) ? 1 : 0;
  return days_before_year - kEpochDays + kDaysBeforeMonth[month - 1] + leap_day + (day - 1);
}

int days_in_month(int year, int month) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && is_leap(year) ? 29 : kDays[month - 1];
}

}  // namespace

bool parse_decimal_ns(std::string_view s, int unit_exp10, int64_t& ns) {
  s = trim(s);
  if (s.empty()) return false;
  if (s.find_first_of("eE") != std::string_view::npos) {
    double v = 0.0;
    if (!parse_double(s, v)) return false;
    const double scaled = v * static_cast<double>(kPow10[unit_exp10]);
    if (!(std::fabs(scaled) < 9.2e18)) return false;
    ns = std::llround(scaled);
    return true;
  }
  bool negative = false;
  size_t pos = 0;
  if (s[0] == '-' || s[0] == '+') {
    negative = s[0] == '-';
    pos = 1;
  }
  const size_t int_begin = pos;
  int64_t whole = 0;
  while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
    if (whole > (std::numeric_limits<int64_t>::max() - 9) / 10) return false;
    whole = whole * 10 + (s[pos] - '0');
    ++pos;
  }
  const bool have_int = pos > int_begin;
  int64_t frac = 0;
  bool have_frac = false;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    int digits = 0;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      if (digits < unit_exp10) {
        frac = frac * 10 + (s[pos] - '0');
        ++digits;
      }
      have_frac = true;
      ++pos;
    }
    frac *= kPow10[unit_exp10 - digits];
  }
  if (pos != s.size() || (!have_int && !have_frac)) return false;
  if (whole > (std::numeric_limits<int64_t>::max() - frac) / kPow10[unit_exp10]) return false;
  const int64_t magnitude = whole * kPow10[unit_exp10] + frac;
  ns = negative ? -magnitude : magnitude;
  return true;
}

bool parse_wallclock_ns(std::string_view s, int64_t& ns) {
  s = trim(s);
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (!fixed_digits(s, 0, 4, year) || s.size() < 19 || s[4] != '-' ||
      !fixed_digits(s, 5, 2, month) || s[7] != '-' || !fixed_digits(s, 8, 2, day) ||
      (s[10] != ' ' && s[10] != 'T') || !fixed_digits(s, 11, 2, hour) || s[13] != ':' ||
      !fixed_digits(s, 14, 2, minute) || s[16] != ':' || !fixed_digits(s, 17, 2, second)) {
    return false;
  }
  if (year < 1 || month < 1 || month > 12 || day < 1 || day > days_in_month(year, month) ||
      hour > 23 || minute > 59 || second > 59) {
    return false;
  }
  size_t pos = 19;
  int64_t frac_ns = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    int digits = 0;
    const size_t begin = pos;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      if (digits < 9) {
        frac_ns = frac_ns * 10 + (s[pos] - '0');
        ++digits;
      }
      ++pos;
    }
    if (pos == begin) return false;
    frac_ns *= kPow10[9 - digits];
  }
  int64_t offset_s = 0;
  if (pos < s.size()) {
    if (s[pos] == 'Z' && pos + 1 == s.size()) {
      pos = s.size();
    } else if ((s[pos] == '+' || s[pos] == '-') && pos + 6 == s.size() && s[pos + 3] == ':') {
      int oh = 0, om = 0;
      if (!fixed_digits(s, pos + 1, 2, oh) || !fixed_digits(s, pos + 4, 2, om) || oh > 23 ||
          om > 59) {
        return false;
      }
      offset_s = (s[pos] == '+' ? 1 : -1) * (oh * 3600 + om * 60);
      pos = s.size();
    } else {
      return false;
    }
  }
  const int64_t seconds =
      days_since_epoch(year, month, day) * 86400 + hour * 3600 + minute * 60 + second - offset_s;
  // int64 nanoseconds reach from 1677 to 2262: a date outside is not a time we can represent.
  constexpr int64_t kNsPerS = 1'000'000'000;
  if (seconds > (std::numeric_limits<int64_t>::max() - frac_ns) / kNsPerS ||
      seconds < std::numeric_limits<int64_t>::min() / kNsPerS) {
    return false;
  }
  ns = seconds * kNsPerS + frac_ns;
  return true;
}

std::string excerpt(std::string_view s) {
  if (s.size() <= 60) return std::string(s);
  return std::string(s.substr(0, 57)) + "...";
}

void fail_field(const std::string& file, int64_t line, std::string_view column,
                std::string_view expected, std::string_view got) {
  core::throw_input_error(file + ":" + std::to_string(line) + ": column " + std::string(column) +
                          ": expected " + std::string(expected) + ", got '" + excerpt(got) + "'");
}

void fail_line(const std::string& file, int64_t line, const std::string& message) {
  core::throw_input_error(file + ":" + std::to_string(line) + ": " + message);
}

}  // namespace flowkv::traces::detail
