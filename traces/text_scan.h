// Low-level text scanning shared by the trace readers: whole-file reads, line iteration,
// CSV field splitting and strict numeric parsing with std::from_chars.
//
// Everything here works on std::string_view into one buffer holding the whole file, so the hot
// loop of a reader allocates nothing per row. Parsers return false on malformed text and leave
// the error message to the caller, which knows the file, line and column (see fail_field).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace flowkv::traces::detail {

// The whole file in one buffer: memory-mapped (populated up front, so there is no page fault
// per 4 KiB while parsing) or, for what cannot be mapped, read into memory.
class FileBuffer {
 public:
  FileBuffer() = default;
  FileBuffer(std::unique_ptr<char[]> data, size_t size) : data_(std::move(data)), size_(size) {}
  FileBuffer(void* mapping, size_t size) : mapping_(mapping), size_(size) {}
  FileBuffer(FileBuffer&& o) noexcept
      : data_(std::move(o.data_)), mapping_(std::exchange(o.mapping_, nullptr)), size_(o.size_) {}
  FileBuffer& operator=(FileBuffer&&) = delete;
  FileBuffer(const FileBuffer&) = delete;
  ~FileBuffer();

  std::string_view view() const {
    return std::string_view(mapping_ ? static_cast<const char*>(mapping_) : data_.get(), size_);
  }

 private:
  std::unique_ptr<char[]> data_;
  void* mapping_ = nullptr;
  size_t size_ = 0;
};

// Asks the kernel to back [data, data + bytes) with huge pages where it can: a 2M-request trace
// is 128 MB of Requests, and on virtual machines the 4 KiB page faults of filling it cost more
// than parsing. A hint only; it changes no behaviour.
void advise_huge_pages(void* data, size_t bytes);

// An input error naming the path if the file cannot be read.
FileBuffer read_whole_file(const std::filesystem::path& path);

// Iterates the lines of a buffer; strips a trailing '\r' (files written on Windows).
class LineReader {
 public:
  explicit LineReader(std::string_view text) : text_(text) {}
  // Next line (without its terminator) and its 1-based number; false at the end.
  bool next(std::string_view& line);
  int64_t line_number() const { return line_number_; }

 private:
  std::string_view text_;
  size_t pos_ = 0;
  int64_t line_number_ = 0;
};

// Splits a CSV line into fields. Fields in double quotes may contain commas; the quotes are
// stripped (a doubled "" inside stays doubled: no reader interprets free text). Returns false on
// an unterminated quote.
bool split_csv(std::string_view line, std::vector<std::string_view>& fields);

std::string_view trim(std::string_view s);

// A non-negative integer; also accepts an integral float spelled "12.0" (pandas writes those).
bool parse_count(std::string_view s, int64_t& value);
// Any integer, for fields where the sign carries meaning.
bool parse_int64(std::string_view s, int64_t& value);
bool parse_uint64(std::string_view s, uint64_t& value);
bool parse_double(std::string_view s, double& value);
// A decimal number of some unit turned exactly into integer nanoseconds: `unit_exp10` is 9 for
// seconds, 6 for milliseconds, 0 for nanoseconds. Digits beyond 1 ns are truncated. Exponent
// notation ("1e-05", as Python prints small floats) falls back to a double and rounds.
bool parse_decimal_ns(std::string_view s, int unit_exp10, int64_t& ns);
// "YYYY-MM-DD HH:MM:SS[.fraction]" (or 'T' between date and time), optionally followed by 'Z'
// or a "+HH:MM" / "-HH:MM" offset, as nanoseconds since 1970-01-01 UTC. Proleptic Gregorian
// calendar, no locale, no time-zone database.
bool parse_wallclock_ns(std::string_view s, int64_t& ns);

// Throws the input error every reader uses for a bad value:
//   FILE:LINE: column NAME: expected WHAT, got 'VALUE'
[[noreturn]] void fail_field(const std::string& file, int64_t line, std::string_view column,
                             std::string_view expected, std::string_view got);
// Throws FILE:LINE: MESSAGE.
[[noreturn]] void fail_line(const std::string& file, int64_t line, const std::string& message);

// Shortened for messages: at most 60 characters, with "..." when cut.
std::string excerpt(std::string_view s);

}  // namespace flowkv::traces::detail
