// Reader of FlowKV's native trace format (the writer is in trace_writer.cc; the format is
// specified in trace_writer.h and docs/traces.md).
#include <string>
#include <string_view>
#include <vector>

#include "traces/readers.h"
#include "traces/text_scan.h"
#include "traces/trace_writer.h"

namespace flowkv::traces::detail {
namespace {

constexpr std::string_view kMagicPrefix = "# flowkv-trace ";

bool parse_hashes(std::string_view s, std::vector<uint64_t>& hashes) {
  hashes.clear();
  size_t pos = 0;
  while (pos < s.size()) {
    while (pos < s.size() && s[pos] == ' ') ++pos;
    if (pos >= s.size()) break;
    size_t end = s.find(' ', pos);
    if (end == std::string_view::npos) end = s.size();
    uint64_t h = 0;
    if (!parse_uint64(s.substr(pos, end - pos), h)) return false;
    hashes.push_back(h);
    pos = end;
  }
  return true;
}

}  // namespace

void read_native(std::string_view text, RowSink& sink) {
  LineReader lines(text);
  std::string_view line;
  // Line 1: the magic and version.
  while (lines.next(line) && trim(line).empty()) {
  }
  if (trim(line) != kNativeMagic) {
    if (trim(line).substr(0, kMagicPrefix.size()) == kMagicPrefix) {
      fail_line(sink.file(), lines.line_number(),
                "unsupported native trace version '" +
                    excerpt(trim(line).substr(kMagicPrefix.size())) + "' (this build reads v1)");
    }
    fail_line(sink.file(), lines.line_number(),
              std::string("expected the native trace header '") + kNativeMagic + "', got '" +
                  excerpt(line) + "'");
  }
  // The column header: the first line that is not a comment.
  std::vector<std::string_view> header;
  bool have_header = false;
  while (lines.next(line)) {
    const std::string_view t = trim(line);
    if (t.empty() || t.front() == '#') continue;
    split_csv(t, header);
    have_header = true;
    break;
  }
  if (!have_header) {
    fail_line(sink.file(), lines.line_number(),
              "missing the column header "
              "'arrival_ns,prompt_tokens,output_tokens[,slo_class][,prefix_hashes]'");
  }
  const int64_t header_line = lines.line_number();
  int t_col = -1, in_col = -1, out_col = -1, slo_col = -1, hash_col = -1;
  for (size_t i = 0; i < header.size(); ++i) {
    const std::string_view name = trim(header[i]);
    int* slot = name == "arrival_ns"      ? &t_col
                : name == "prompt_tokens" ? &in_col
                : name == "output_tokens" ? &out_col
                : name == "slo_class"     ? &slo_col
                : name == "prefix_hashes" ? &hash_col
                                          : nullptr;
    if (!slot || *slot >= 0) {
      fail_line(sink.file(), header_line,
                "unexpected column '" + excerpt(name) +
                    "' in the native header (columns: arrival_ns, prompt_tokens, output_tokens, "
                    "optional slo_class and prefix_hashes, each once)");
    }
    *slot = static_cast<int>(i);
  }
  if (t_col < 0 || in_col < 0 || out_col < 0) {
    fail_line(sink.file(), header_line,
              "the native header needs arrival_ns, prompt_tokens and output_tokens");
  }
  std::vector<std::string_view> f;
  std::vector<uint64_t> hashes;
  while (lines.next(line)) {
    const std::string_view t = trim(line);
    if (t.empty() || t.front() == '#') continue;
    const int64_t n = lines.line_number();
    if (!split_csv(line, f) || f.size() != header.size()) {
      fail_line(sink.file(), n,
                "expected " + std::to_string(header.size()) + " columns as in the header, got '" +
                    excerpt(line) + "'");
    }
    int64_t ns = 0, prompt = 0, output = 0, slo = 0;
    if (!parse_int64(f[t_col], ns))
      fail_field(sink.file(), n, "arrival_ns", "an integer", f[t_col]);
    if (!parse_count(f[in_col], prompt)) {
      fail_field(sink.file(), n, "prompt_tokens", "a non-negative integer", f[in_col]);
    }
    if (!parse_count(f[out_col], output)) {
      fail_field(sink.file(), n, "output_tokens", "a non-negative integer", f[out_col]);
    }
    if (slo_col >= 0 && (!parse_count(f[slo_col], slo) || slo > INT32_MAX)) {
      fail_field(sink.file(), n, "slo_class", "a non-negative integer", f[slo_col]);
    }
    if (hash_col >= 0 && !parse_hashes(f[hash_col], hashes)) {
      fail_field(sink.file(), n, "prefix_hashes", "unsigned 64-bit integers separated by spaces",
                 f[hash_col]);
    }
    const size_t before = sink.requests().size();
    sink.add(n, f[t_col], ns, prompt, output,
             hash_col >= 0 ? std::vector<uint64_t>(hashes) : std::vector<uint64_t>{});
    if (sink.requests().size() > before)
      sink.requests().back().slo_class = static_cast<int32_t>(slo);
  }
}

}  // namespace flowkv::traces::detail
