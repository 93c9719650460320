// TraceEventWriter: streams events in the Chrome trace event format (the JSON object form,
// {"traceEvents": [...]}), which Perfetto (ui.perfetto.dev) and chrome://tracing open.
//
// Events are appended to a small buffer and flushed to the stream as they come, so memory stays
// bounded however long the run; nothing is sorted (both viewers sort by timestamp on load).
// Timestamps and durations are integer nanoseconds printed as microseconds with exactly three
// decimals ("ts": 1234.567), which the format expects and which both viewers read back to the
// nanosecond. Nothing depends on the clock, the locale or pointer values, so the same calls give
// byte-identical output.
//
// Lifecycle: construct (writes the opening), call the event methods, then finish() once (writes
// the closing and flushes); an unfinished writer leaves an incomplete file, which callers
// discard (core/results/result_files.h OutputDir removes temporaries that were not committed).
// Not thread-safe. A stream error is not checked here: the owner of the stream checks it.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>

#include "core/base/time.h"

namespace flowkv::core {

// The "args" object of one event, built key by key. Keys and string values are escaped.
class TraceArgs {
 public:
  TraceArgs& add(std::string_view key, int64_t value);
  TraceArgs& add(std::string_view key, std::string_view value);
  TraceArgs& add(std::string_view key, const char* value) { return add(key, std::string_view(value)); }
  TraceArgs& add_bool(std::string_view key, bool value);
  // value / 10^decimals printed with exactly `decimals` decimals (integers in, no rounding).
  TraceArgs& add_fixed(std::string_view key, int64_t scaled, int decimals);
  void clear() { body_.clear(); }
  bool empty() const { return body_.empty(); }
  const std::string& body() const { return body_; }  // "k":v,... without braces

 private:
  void key(std::string_view k);
  std::string body_;
};

class TraceEventWriter {
 public:
  // Where an instant event is drawn: on its thread, across its process, or across everything.
  enum class Scope : char { kThread = 't', kProcess = 'p', kGlobal = 'g' };

  explicit TraceEventWriter(std::ostream& out);
  ~TraceEventWriter();
  TraceEventWriter(const TraceEventWriter&) = delete;
  TraceEventWriter& operator=(const TraceEventWriter&) = delete;

  // Metadata ("M"): names and display order of processes and threads.
  void process_name(uint32_t pid, std::string_view name);
  void process_sort_index(uint32_t pid, int64_t index);
  void thread_name(uint32_t pid, uint32_t tid, std::string_view name);
  void thread_sort_index(uint32_t pid, uint32_t tid, int64_t index);

  // A slice ("X") from ts to ts + dur on one thread. Slices on one thread must nest.
  void complete(uint32_t pid, uint32_t tid, Time ts, Duration dur, std::string_view cat, std::string_view name,
                const TraceArgs& args);
  // An instant ("i").
  void instant(uint32_t pid, uint32_t tid, Time ts, Scope scope, std::string_view cat, std::string_view name,
               const TraceArgs& args);
  // A counter ("C"): one track per (pid, name, arg key); args hold numbers only.
  void counter(uint32_t pid, Time ts, std::string_view name, const TraceArgs& args);
  // Flow events joining slices: start ("s") binds to the slice enclosing ts on (pid, tid);
  // finish ("f") with "bp":"e" binds to the slice enclosing ts on its thread. A start and a
  // finish match by (cat, name, id).
  void flow_start(uint32_t pid, uint32_t tid, Time ts, std::string_view cat, std::string_view name, uint64_t id);
  void flow_finish(uint32_t pid, uint32_t tid, Time ts, std::string_view cat, std::string_view name, uint64_t id);

  // Closes the event array, then writes `extra_members` (already-rendered JSON members, e.g.
  // "\"displayTimeUnit\":\"ms\"", or empty) into the top-level object, and flushes.
  void finish(std::string_view extra_members);

  int64_t events() const { return events_; }
  int64_t bytes() const { return bytes_; }  // written so far, including what is still buffered

 private:
  void begin_event(char phase, uint32_t pid, std::string_view name);
  void end_event();
  void flush();

  std::ostream& out_;
  std::string buf_;
  int64_t events_ = 0;
  int64_t bytes_ = 0;
  bool finished_ = false;
};

// Helpers shared with tests: JSON string escaping and the microsecond rendering of nanoseconds.
void append_json_string(std::string& out, std::string_view s);
void append_micros(std::string& out, int64_t ns);

}  // namespace flowkv::core
