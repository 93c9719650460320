// read_trace(): format detection, dispatch to the per-format reader, and the common finishing
// steps (skip accounting, order check, sort, re-zero, numbering).
#include <algorithm>
#include <cstring>
#include <string>
#include <string_view>

#include "core/base/error.h"
#include "traces/readers.h"
#include "traces/text_scan.h"
#include "traces/trace.h"

namespace flowkv::traces {

namespace {

struct FormatName {
  TraceFormat format;
  const char* name;
};
constexpr FormatName kFormatNames[] = {
    {TraceFormat::kAuto, "auto"},
    {TraceFormat::kAzure, "azure"},
    {TraceFormat::kMooncake, "mooncake"},
    {TraceFormat::kVidur, "vidur"},
    {TraceFormat::kLlmServingSim, "llmservingsim"},
    {TraceFormat::kApex, "apex"},
    {TraceFormat::kBurstGpt, "burstgpt"},
    {TraceFormat::kNative, "native"},
};

// Formats whose files are in arrival order by construction; a timestamp going backwards there
// means a damaged or hand-edited file, so it is an error rather than something to sort away.
bool promises_order(TraceFormat f) {
  return f == TraceFormat::kAzure || f == TraceFormat::kVidur || f == TraceFormat::kMooncake ||
         f == TraceFormat::kLlmServingSim || f == TraceFormat::kNative;
}

const char* time_column(TraceFormat f) {
  switch (f) {
    case TraceFormat::kAzure:
      return "TIMESTAMP";
    case TraceFormat::kVidur:
      return "arrived_at";
    case TraceFormat::kMooncake:
      return "timestamp";
    case TraceFormat::kLlmServingSim:
      return "arrival_time_ns";
    case TraceFormat::kApex:
      return "StartTimeOffset";
    case TraceFormat::kBurstGpt:
      return "Timestamp";
    default:
      return "arrival_ns";
  }
}

}  // namespace

TraceFormat parse_trace_format(std::string_view name) {
  for (const auto& f : kFormatNames) {
    if (name == f.name) return f.format;
  }
  std::string names;
  for (const auto& f : kFormatNames) names += std::string(names.empty() ? "" : ", ") + f.name;
  core::throw_input_error("unknown trace format '" + std::string(name) +
                          "' (expected one of: " + names + ")");
}

const char* to_string(TraceFormat format) {
  for (const auto& f : kFormatNames) {
    if (f.format == format) return f.name;
  }
  return "unknown";
}

int64_t TraceStats::skipped_total() const {
  int64_t total = 0;
  for (const auto& [reason, n] : skipped) total += n;
  return total;
}

void normalize_requests(std::vector<core::Request>& requests) {
  if (!std::is_sorted(
          requests.begin(), requests.end(),
          [](const core::Request& a, const core::Request& b) { return a.arrival < b.arrival; })) {
    std::stable_sort(
        requests.begin(), requests.end(),
        [](const core::Request& a, const core::Request& b) { return a.arrival < b.arrival; });
  }
  const core::Time first = requests.empty() ? core::Time::zero() : requests.front().arrival;
  for (size_t i = 0; i < requests.size(); ++i) {
    requests[i].arrival = core::Time::zero() + (requests[i].arrival - first);
    requests[i].id = core::RequestId{i};
  }
}

namespace detail {

RowSink::RowSink(std::string file, TraceFormat format, bool ordered, std::string_view time_column)
    : file_(std::move(file)), format_(format), ordered_(ordered), time_column_(time_column) {}

void RowSink::add(int64_t line, std::string_view raw_time, int64_t arrival_ns,
                  int64_t prompt_tokens, int64_t output_tokens,
                  std::vector<uint64_t>&& prefix_hashes, std::vector<int32_t>&& token_ids) {
  ++stats_.rows;
  if (ordered_) {
    if (have_previous_ && arrival_ns < previous_ns_) {
      fail_field(file_, line, time_column_,
                 "a time no earlier than '" + excerpt(trim(previous_raw_)) + "' on line " +
                     std::to_string(previous_line_) + " (" + to_string(format_) +
                     " traces are in arrival order)",
                 trim(raw_time));
    }
    have_previous_ = true;
    previous_ns_ = arrival_ns;
    previous_line_ = line;
    previous_raw_ = raw_time;
  }
  if (prompt_tokens > kMaxRequestTokens || output_tokens > kMaxRequestTokens) {
    fail_line(file_, line,
              "a request of " + std::to_string(prompt_tokens) + " prompt and " +
                  std::to_string(output_tokens) + " output tokens: expected at most " +
                  std::to_string(kMaxRequestTokens) + " tokens on each side");
  }
  if (prompt_tokens == 0) {
    ++stats_.skipped[kSkipZeroInput];
    return;
  }
  if (output_tokens == 0) {
    ++stats_.skipped[kSkipZeroOutput];
    return;
  }
  core::Request r;
  r.arrival = core::Time::from_nanos(arrival_ns);
  r.prompt_tokens = prompt_tokens;
  r.output_tokens = output_tokens;
  r.prefix_hashes = std::move(prefix_hashes);
  r.prompt_token_ids = std::move(token_ids);
  requests_.push_back(std::move(r));
}

void RowSink::skip(const char* reason) {
  ++stats_.rows;
  ++stats_.skipped[reason];
}

namespace {

bool has_field(const std::vector<std::string_view>& fields, std::string_view name) {
  for (auto f : fields) {
    if (trim(f) == name) return true;
  }
  return false;
}

}  // namespace

TraceFormat detect_format(std::string_view text, const std::string& file) {
  LineReader lines(text);
  std::string_view line;
  while (lines.next(line) && trim(line).empty()) {
  }
  const std::string_view first = trim(line);
  if (first.empty()) core::throw_input_error(file + ": empty trace file (no lines)");
  if (first.substr(0, 14) == "# flowkv-trace") return TraceFormat::kNative;
  if (first.front() == '{') {
    auto has_key = [&](std::string_view key) {
      std::string quoted(1, '"');
      quoted.append(key).push_back('"');
      return first.find(quoted) != std::string_view::npos;
    };
    if (has_key("hash_ids") || has_key("input_length")) return TraceFormat::kMooncake;
    if (has_key("input_toks") || has_key("arrival_time_ns")) return TraceFormat::kLlmServingSim;
    if (has_key("StartTimeOffset")) return TraceFormat::kApex;
  } else {
    std::vector<std::string_view> fields;
    split_csv(first, fields);
    if (has_field(fields, "TIMESTAMP") && has_field(fields, "ContextTokens"))
      return TraceFormat::kAzure;
    if (has_field(fields, "arrived_at")) return TraceFormat::kVidur;
    if (has_field(fields, "Request tokens") && has_field(fields, "Response tokens")) {
      return TraceFormat::kBurstGpt;
    }
    if (has_field(fields, "num_prefill_tokens") && has_field(fields, "num_decode_tokens")) {
      detail::fail_line(file, lines.line_number(),
                        "a lengths-only file (num_prefill_tokens,num_decode_tokens without "
                        "arrived_at), not a trace: it has no arrival times. Resample its lengths "
                        "with a generator instead: \"workload\": {\"generator\": {\"input\": "
                        "{\"dist\": \"empirical\", \"trace\": FILE}, \"output\": ...}}");
    }
  }
  detail::fail_line(
      file, lines.line_number(),
      "cannot tell the trace format from '" + excerpt(first) +
          "' (expected a native '# flowkv-trace v1' line, an Azure/Vidur/BurstGPT CSV header, or "
          "a Mooncake/LLMServingSim/APEX JSON object; force one with --trace-format / \"format\")");
}

}  // namespace detail

namespace {

using RowReader = void (*)(std::string_view, detail::RowSink&);

RowReader reader_for(TraceFormat format) {
  switch (format) {
    case TraceFormat::kAzure:
      return detail::read_azure;
    case TraceFormat::kVidur:
      return detail::read_vidur;
    case TraceFormat::kBurstGpt:
      return detail::read_burstgpt;
    case TraceFormat::kNative:
      return detail::read_native;
    case TraceFormat::kMooncake:
      return detail::read_mooncake;
    case TraceFormat::kLlmServingSim:
      return detail::read_llmservingsim;
    case TraceFormat::kApex:
      return detail::read_apex;
    case TraceFormat::kAuto:
      break;
  }
  FLOWKV_CHECK(false, "no reader for the 'auto' format");
}

std::string_view without_bom(std::string_view view) {
  if (view.substr(0, 3) == "\xEF\xBB\xBF") view.remove_prefix(3);  // UTF-8 byte-order mark
  return view;
}

// Runs `read` over the text and applies what every trace shares: the empty check, sorting,
// re-zeroing and numbering.
Trace read_rows(const std::string& file, std::string_view view, TraceFormat format, bool ordered,
                RowReader read) {
  detail::RowSink sink(file, format, ordered, time_column(format));
  // One request per line at most: reserving avoids moving millions of requests while growing.
  size_t lines = 1;
  for (const char* p = view.data();
       (p = static_cast<const char*>(std::memchr(p, '\n', view.data() + view.size() - p))); ++p) {
    ++lines;
  }
  sink.requests().reserve(lines);
  detail::advise_huge_pages(sink.requests().data(), lines * sizeof(core::Request));
  read(view, sink);

  Trace trace;
  trace.source = file;
  trace.format = format;
  trace.stats = std::move(sink.stats());
  trace.requests = std::move(sink.requests());
  if (trace.requests.empty()) {
    std::string why = trace.stats.rows == 0
                          ? "it has no data rows"
                          : "all " + std::to_string(trace.stats.rows) + " rows were skipped (";
    if (trace.stats.rows > 0) {
      bool first = true;
      for (const auto& [reason, n] : trace.stats.skipped) {
        why += (first ? "" : ", ") + reason + ": " + std::to_string(n);
        first = false;
      }
      why += ")";
    }
    core::throw_input_error(file + ": empty trace (" + to_string(format) + " format): " + why +
                            "; a trace needs at least one request");
  }
  // Times are re-zeroed to the first arrival, so their span must fit int64 nanoseconds.
  const auto [earliest, latest] = std::minmax_element(
      trace.requests.begin(), trace.requests.end(),
      [](const core::Request& a, const core::Request& b) { return a.arrival < b.arrival; });
  int64_t span_ns = 0;
  if (__builtin_sub_overflow(latest->arrival.ns(), earliest->arrival.ns(), &span_ns)) {
    core::throw_input_error(file + ": arrival times span more than 292 years (from " +
                            std::to_string(earliest->arrival.ns()) + " to " +
                            std::to_string(latest->arrival.ns()) +
                            " ns), which int64 nanoseconds cannot hold; expected one trace's times");
  }
  normalize_requests(trace.requests);
  return trace;
}

}  // namespace

Trace read_trace(const std::filesystem::path& path, TraceFormat format) {
  const detail::FileBuffer buffer = detail::read_whole_file(path);
  const std::string_view view = without_bom(buffer.view());
  const std::string file = path.string();
  if (format == TraceFormat::kAuto) format = detail::detect_format(view, file);
  return read_rows(file, view, format, promises_order(format), reader_for(format));
}

namespace detail {

Trace read_length_samples(const std::filesystem::path& path, TraceFormat format) {
  if (format == TraceFormat::kAuto) {
    const FileBuffer buffer = read_whole_file(path);
    const std::string_view view = without_bom(buffer.view());
    LineReader lines(view);
    std::string_view first;
    while (lines.next(first) && trim(first).empty()) {
    }
    std::vector<std::string_view> fields;
    if (!first.empty() && first.front() != '{' && first.front() != '#' &&
        split_csv(first, fields) && has_field(fields, "num_prefill_tokens") &&
        has_field(fields, "num_decode_tokens") && !has_field(fields, "arrived_at")) {
      return read_rows(path.string(), view, TraceFormat::kVidur, false, read_vidur_lengths);
    }
  }
  return read_trace(path, format);
}

}  // namespace detail
}  // namespace flowkv::traces
