#include "traces/trace_writer.h"

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <fstream>
#include <ostream>
#include <random>
#include <system_error>

#include "core/base/error.h"

namespace flowkv::traces {
namespace {

void append_int(std::string& out, int64_t v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, end);
}

void append_uint(std::string& out, uint64_t v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, end);
}

// ns as an exact decimal of a coarser unit (unit_ns = 1e9 for seconds, 1e6 for milliseconds):
// "4.314579", "0.0" (seconds) or "1234", "1234.5" (milliseconds, integral_plain = true).
void append_decimal(std::string& out, int64_t ns, int64_t unit_ns, int digits,
                    bool integral_plain) {
  if (ns < 0) {
    out.push_back('-');
    ns = -ns;
  }
  append_int(out, ns / unit_ns);
  int64_t frac = ns % unit_ns;
  if (frac == 0 && integral_plain) return;
  std::string f(static_cast<size_t>(digits), '0');
  for (int i = digits - 1; i >= 0; --i) {
    f[static_cast<size_t>(i)] = static_cast<char>('0' + frac % 10);
    frac /= 10;
  }
  while (f.size() > 1 && f.back() == '0') f.pop_back();
  out.push_back('.');
  out += f;
}

void format_native(std::string& out, const Trace& trace) {
  out += kNativeMagic;
  out += "\narrival_ns,prompt_tokens,output_tokens,slo_class,prefix_hashes\n";
  for (const auto& r : trace.requests) {
    append_int(out, r.arrival.ns());
    out.push_back(',');
    append_int(out, r.prompt_tokens);
    out.push_back(',');
    append_int(out, r.output_tokens);
    out.push_back(',');
    append_int(out, r.slo_class);
    out.push_back(',');
    for (size_t i = 0; i < r.prefix_hashes.size(); ++i) {
      if (i) out.push_back(' ');
      append_uint(out, r.prefix_hashes[i]);
    }
    out.push_back('\n');
  }
}

void format_vidur(std::string& out, const Trace& trace) {
  out += "arrived_at,num_prefill_tokens,num_decode_tokens\n";
  for (const auto& r : trace.requests) {
    append_decimal(out, r.arrival.ns(), 1'000'000'000, 9, false);
    out.push_back(',');
    append_int(out, r.prompt_tokens);
    out.push_back(',');
    append_int(out, r.output_tokens);
    out.push_back('\n');
  }
}

void format_mooncake(std::string& out, const Trace& trace) {
  for (const auto& r : trace.requests) {
    out += "{\"timestamp\": ";
    append_decimal(out, r.arrival.ns(), 1'000'000, 6, true);
    out += ", \"input_length\": ";
    append_int(out, r.prompt_tokens);
    out += ", \"output_length\": ";
    append_int(out, r.output_tokens);
    out += ", \"hash_ids\": [";
    for (size_t i = 0; i < r.prefix_hashes.size(); ++i) {
      if (i) out += ", ";
      append_uint(out, r.prefix_hashes[i]);
    }
    out += "]}\n";
  }
}

}  // namespace

std::string format_trace(const Trace& trace, TraceFormat format) {
  std::string out;
  out.reserve(trace.requests.size() * 48 + 128);
  switch (format) {
    case TraceFormat::kNative:
      format_native(out, trace);
      break;
    case TraceFormat::kVidur:
      format_vidur(out, trace);
      break;
    case TraceFormat::kMooncake:
      format_mooncake(out, trace);
      break;
    default:
      core::throw_input_error(std::string("cannot write traces in the '") + to_string(format) +
                              "' format (writable: native, vidur, mooncake)");
  }
  return out;
}

void write_trace(std::ostream& out, const Trace& trace, TraceFormat format) {
  const std::string text = format_trace(trace, format);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
}

void write_file_atomically(const std::filesystem::path& path, const std::string& contents) {
  std::random_device entropy;  // only names the temporary file; never reaches the output
  const std::filesystem::path tmp =
      path.string() + ".tmp-" + std::to_string(static_cast<unsigned>(entropy()));
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) {
      throw core::Error(core::ErrorKind::kRuntime,
                        path.string() + ": cannot create the output file (" +
                            std::generic_category().message(errno) + ")");
    }
    out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
    out.flush();
    if (!out) {
      std::error_code ec;
      std::filesystem::remove(tmp, ec);
      throw core::Error(core::ErrorKind::kRuntime, path.string() + ": write failed");
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::error_code ignored;
    std::filesystem::remove(tmp, ignored);
    throw core::Error(core::ErrorKind::kRuntime,
                      path.string() + ": cannot move the output into place (" + ec.message() + ")");
  }
}

void write_trace_file(const std::filesystem::path& path, const Trace& trace, TraceFormat format) {
  write_file_atomically(path, format_trace(trace, format));
}

}  // namespace flowkv::traces
