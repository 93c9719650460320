#include "core/results/trace_event_writer.h"

#include <charconv>

namespace flowkv::core {
namespace {

constexpr size_t kFlushBytes = size_t{1} << 16;

void append_int(std::string& out, int64_t v) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

void append_uint(std::string& out, uint64_t v) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

}  // namespace

void append_json_string(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out.push_back(kHex[c >> 4]);
          out.push_back(kHex[c & 15]);
        } else {
          out.push_back(ch);  // UTF-8 passes through unchanged
        }
    }
  }
  out.push_back('"');
}

void append_micros(std::string& out, int64_t ns) {
  // Split with unsigned arithmetic so INT64_MIN has a magnitude too.
  uint64_t mag = static_cast<uint64_t>(ns);
  if (ns < 0) {
    out.push_back('-');
    mag = ~mag + 1;
  }
  append_uint(out, mag / 1000);
  const unsigned frac = static_cast<unsigned>(mag % 1000);
  out.push_back('.');
  out.push_back(static_cast<char>('0' + frac / 100));
  out.push_back(static_cast<char>('0' + frac / 10 % 10));
  out.push_back(static_cast<char>('0' + frac % 10));
}

// ---- TraceArgs ----

void TraceArgs::key(std::string_view k) {
  if (!body_.empty()) body_.push_back(',');
  append_json_string(body_, k);
  body_.push_back(':');
}

TraceArgs& TraceArgs::add(std::string_view k, int64_t value) {
  key(k);
  append_int(body_, value);
  return *this;
}

TraceArgs& TraceArgs::add(std::string_view k, std::string_view value) {
  key(k);
  append_json_string(body_, value);
  return *this;
}

TraceArgs& TraceArgs::add_bool(std::string_view k, bool value) {
  key(k);
  body_ += value ? "true" : "false";
  return *this;
}

TraceArgs& TraceArgs::add_fixed(std::string_view k, int64_t scaled, int decimals) {
  key(k);
  uint64_t mag = static_cast<uint64_t>(scaled);
  if (scaled < 0) {
    body_.push_back('-');
    mag = ~mag + 1;
  }
  uint64_t div = 1;
  for (int i = 0; i < decimals; ++i) div *= 10;
  append_uint(body_, mag / div);
  if (decimals > 0) {
    body_.push_back('.');
    const uint64_t frac = mag % div;
    for (uint64_t d = div / 10; d > 0; d /= 10) body_.push_back(static_cast<char>('0' + frac / d % 10));
  }
  return *this;
}

// ---- TraceEventWriter ----

TraceEventWriter::TraceEventWriter(std::ostream& out) : out_(out) {
  buf_.reserve(kFlushBytes + 4096);
  buf_ += "{\"traceEvents\":[";
}

TraceEventWriter::~TraceEventWriter() {
  // An unfinished file is incomplete JSON whatever we do; flushing what we have still helps
  // someone debugging it.
  if (!finished_) flush();
}

void TraceEventWriter::begin_event(char phase, uint32_t pid, std::string_view name) {
  if (events_ > 0) buf_.push_back(',');
  buf_ += "\n{\"ph\":\"";
  buf_.push_back(phase);
  buf_ += "\",\"pid\":";
  append_uint(buf_, pid);
  buf_ += ",\"name\":";
  append_json_string(buf_, name);
}

void TraceEventWriter::end_event() {
  buf_.push_back('}');
  ++events_;
  if (buf_.size() >= kFlushBytes) flush();
}

void TraceEventWriter::flush() {
  if (buf_.empty()) return;
  out_.write(buf_.data(), static_cast<std::streamsize>(buf_.size()));
  bytes_ += static_cast<int64_t>(buf_.size());
  buf_.clear();
}

void TraceEventWriter::process_name(uint32_t pid, std::string_view name) {
  begin_event('M', pid, "process_name");
  buf_ += ",\"args\":{\"name\":";
  append_json_string(buf_, name);
  buf_.push_back('}');
  end_event();
}

void TraceEventWriter::process_sort_index(uint32_t pid, int64_t index) {
  begin_event('M', pid, "process_sort_index");
  buf_ += ",\"args\":{\"sort_index\":";
  append_int(buf_, index);
  buf_.push_back('}');
  end_event();
}

void TraceEventWriter::thread_name(uint32_t pid, uint32_t tid, std::string_view name) {
  begin_event('M', pid, "thread_name");
  buf_ += ",\"tid\":";
  append_uint(buf_, tid);
  buf_ += ",\"args\":{\"name\":";
  append_json_string(buf_, name);
  buf_.push_back('}');
  end_event();
}

void TraceEventWriter::thread_sort_index(uint32_t pid, uint32_t tid, int64_t index) {
  begin_event('M', pid, "thread_sort_index");
  buf_ += ",\"tid\":";
  append_uint(buf_, tid);
  buf_ += ",\"args\":{\"sort_index\":";
  append_int(buf_, index);
  buf_.push_back('}');
  end_event();
}

void TraceEventWriter::complete(uint32_t pid, uint32_t tid, Time ts, Duration dur, std::string_view cat,
                                std::string_view name, const TraceArgs& args) {
  begin_event('X', pid, name);
  buf_ += ",\"tid\":";
  append_uint(buf_, tid);
  buf_ += ",\"cat\":";
  append_json_string(buf_, cat);
  buf_ += ",\"ts\":";
  append_micros(buf_, ts.ns());
  buf_ += ",\"dur\":";
  append_micros(buf_, dur.ns());
  if (!args.empty()) {
    buf_ += ",\"args\":{";
    buf_ += args.body();
    buf_.push_back('}');
  }
  end_event();
}

void TraceEventWriter::instant(uint32_t pid, uint32_t tid, Time ts, Scope scope, std::string_view cat,
                               std::string_view name, const TraceArgs& args) {
  begin_event('i', pid, name);
  buf_ += ",\"tid\":";
  append_uint(buf_, tid);
  buf_ += ",\"cat\":";
  append_json_string(buf_, cat);
  buf_ += ",\"ts\":";
  append_micros(buf_, ts.ns());
  buf_ += ",\"s\":\"";
  buf_.push_back(static_cast<char>(scope));
  buf_.push_back('"');
  if (!args.empty()) {
    buf_ += ",\"args\":{";
    buf_ += args.body();
    buf_.push_back('}');
  }
  end_event();
}

void TraceEventWriter::counter(uint32_t pid, Time ts, std::string_view name, const TraceArgs& args) {
  begin_event('C', pid, name);
  buf_ += ",\"ts\":";
  append_micros(buf_, ts.ns());
  buf_ += ",\"args\":{";
  buf_ += args.body();
  buf_.push_back('}');
  end_event();
}

void TraceEventWriter::flow_start(uint32_t pid, uint32_t tid, Time ts, std::string_view cat, std::string_view name,
                                  uint64_t id) {
  begin_event('s', pid, name);
  buf_ += ",\"tid\":";
  append_uint(buf_, tid);
  buf_ += ",\"cat\":";
  append_json_string(buf_, cat);
  buf_ += ",\"ts\":";
  append_micros(buf_, ts.ns());
  buf_ += ",\"id\":";
  append_uint(buf_, id);
  end_event();
}

void TraceEventWriter::flow_finish(uint32_t pid, uint32_t tid, Time ts, std::string_view cat, std::string_view name,
                                   uint64_t id) {
  begin_event('f', pid, name);
  buf_ += ",\"tid\":";
  append_uint(buf_, tid);
  buf_ += ",\"cat\":";
  append_json_string(buf_, cat);
  buf_ += ",\"ts\":";
  append_micros(buf_, ts.ns());
  buf_ += ",\"id\":";
  append_uint(buf_, id);
  buf_ += ",\"bp\":\"e\"";
  end_event();
}

void TraceEventWriter::finish(std::string_view extra_members) {
  if (finished_) return;
  buf_ += "\n]";
  if (!extra_members.empty()) {
    buf_.push_back(',');
    buf_ += extra_members;
  }
  buf_ += "}\n";
  flush();
  out_.flush();
  finished_ = true;
}

}  // namespace flowkv::core
