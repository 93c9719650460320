#include "runtime/model/safetensors.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/base/error.h"
#include "runtime/model/random_weights.h"

namespace flowkv::runtime {
namespace {

using nlohmann::json;

// Bytes per element of the dtypes the format defines (0: not a safetensors dtype).
int64_t dtype_size(const std::string& dtype) {
  if (dtype == "F64" || dtype == "I64" || dtype == "U64") return 8;
  if (dtype == "F32" || dtype == "I32" || dtype == "U32") return 4;
  if (dtype == "F16" || dtype == "BF16" || dtype == "I16" || dtype == "U16") return 2;
  if (dtype == "BOOL" || dtype == "U8" || dtype == "I8" || dtype == "F8_E4M3" ||
      dtype == "F8_E5M2") {
    return 1;
  }
  return 0;
}

int64_t element_count(std::span<const int64_t> shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

float bf16_to_float(uint16_t h) {
  const uint32_t bits = uint32_t{h} << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

float f16_to_float(uint16_t h) {
  const uint32_t sign = uint32_t{h & 0x8000u} << 16;
  uint32_t exponent = (h >> 10) & 0x1Fu;
  uint32_t mantissa = h & 0x3FFu;
  uint32_t bits;
  if (exponent == 0x1F) {
    bits = sign | 0x7F800000u | (mantissa << 13);  // inf / nan
  } else if (exponent != 0) {
    bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
  } else if (mantissa == 0) {
    bits = sign;
  } else {  // subnormal half: normalise
    exponent = 113;
    while ((mantissa & 0x400u) == 0) {
      mantissa <<= 1;
      --exponent;
    }
    bits = sign | (exponent << 23) | ((mantissa & 0x3FFu) << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

// float -> f16, nearest even (finite values in range; larger ones become inf).
uint16_t float_to_f16(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  const uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000u);
  const int32_t exponent = static_cast<int32_t>((bits >> 23) & 0xFFu) - 127 + 15;
  uint32_t mantissa = bits & 0x7FFFFFu;
  if (exponent >= 31) return sign | 0x7C00u;
  if (exponent <= 0) {
    if (exponent < -10) return sign;
    mantissa |= 0x800000u;
    const int shift = 14 - exponent;
    uint32_t half = mantissa >> shift;
    const uint32_t rest = mantissa & ((1u << shift) - 1);
    const uint32_t halfway = 1u << (shift - 1);
    if (rest > halfway || (rest == halfway && (half & 1u))) ++half;
    return static_cast<uint16_t>(sign | half);
  }
  uint32_t half = (static_cast<uint32_t>(exponent) << 10) | (mantissa >> 13);
  const uint32_t rest = mantissa & 0x1FFFu;
  if (rest > 0x1000u || (rest == 0x1000u && (half & 1u))) ++half;  // may carry into the exponent
  return static_cast<uint16_t>(sign | half);
}

std::string read_text(const std::filesystem::path& path, const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) core::throw_input_error(path.string() + ": cannot open the " + what);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

std::string shape_string(std::span<const int64_t> shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

const char* to_string(SafetensorsDtype dtype) {
  switch (dtype) {
    case SafetensorsDtype::kBF16: return "BF16";
    case SafetensorsDtype::kF16: return "F16";
    case SafetensorsDtype::kF32: return "F32";
  }
  return "?";
}

SafetensorsFile::SafetensorsFile(const std::filesystem::path& path) : path_(path) {
  const std::string where = path.string();
  std::ifstream in(path, std::ios::binary);
  if (!in) core::throw_input_error(where + ": cannot open the safetensors file");
  std::error_code ec;
  const int64_t file_size = static_cast<int64_t>(std::filesystem::file_size(path, ec));
  if (ec) core::throw_input_error(where + ": cannot read its size (" + ec.message() + ")");
  if (file_size < 8) {
    core::throw_input_error(where + ": " + std::to_string(file_size) +
                            " bytes, too short for a safetensors file (an 8-byte header length, "
                            "then a JSON header)");
  }
  unsigned char len_bytes[8];
  in.read(reinterpret_cast<char*>(len_bytes), 8);
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | len_bytes[i];
  if (header_len > static_cast<uint64_t>(file_size - 8)) {
    core::throw_input_error(where + ": header length " + std::to_string(header_len) +
                            " runs past the end of the file (" + std::to_string(file_size) +
                            " bytes): not a safetensors file, or truncated");
  }
  std::string header(header_len, '\0');
  in.read(header.data(), static_cast<std::streamsize>(header_len));
  if (!in) core::throw_input_error(where + ": cannot read the header");
  json root;
  try {
    root = json::parse(header);
  } catch (const json::exception& e) {
    core::throw_input_error(where + ": the header is not valid JSON (" + e.what() + ")");
  }
  if (!root.is_object()) {
    core::throw_input_error(where + ": the header is not a JSON object of tensors");
  }
  const int64_t data_start = 8 + static_cast<int64_t>(header_len);
  const int64_t data_size = file_size - data_start;
  for (const auto& [name, v] : root.items()) {
    if (name == "__metadata__") continue;
    const std::string tensor = where + ": tensor '" + name + "'";
    if (!v.is_object() || !v.contains("dtype") || !v["dtype"].is_string() ||
        !v.contains("shape") || !v["shape"].is_array() || !v.contains("data_offsets") ||
        !v["data_offsets"].is_array() || v["data_offsets"].size() != 2) {
      core::throw_input_error(tensor + ": expected {\"dtype\": string, \"shape\": [...], "
                              "\"data_offsets\": [begin, end]}, got " + v.dump());
    }
    SafetensorsEntry e;
    e.dtype = v["dtype"].get<std::string>();
    for (const json& d : v["shape"]) {
      if (!d.is_number_unsigned()) core::throw_input_error(tensor + ": shape " + v["shape"].dump() +
                                                           " is not a list of sizes");
      e.shape.push_back(d.get<int64_t>());
    }
    const json& off = v["data_offsets"];
    if (!off[0].is_number_unsigned() || !off[1].is_number_unsigned() ||
        off[0].get<uint64_t>() > off[1].get<uint64_t>()) {
      core::throw_input_error(tensor + ": data_offsets " + off.dump() +
                              " are not [begin, end] with begin <= end");
    }
    const uint64_t begin = off[0].get<uint64_t>();
    const uint64_t end = off[1].get<uint64_t>();
    if (end > static_cast<uint64_t>(data_size)) {
      core::throw_input_error(tensor + ": data_offsets " + off.dump() +
                              " run past the end of the data (" + std::to_string(data_size) +
                              " bytes): the file is truncated");
    }
    const int64_t size = dtype_size(e.dtype);
    if (size > 0 && static_cast<int64_t>(end - begin) != element_count(e.shape) * size) {
      core::throw_input_error(tensor + ": data_offsets " + off.dump() + " hold " +
                              std::to_string(end - begin) + " bytes, but shape " +
                              shape_string(e.shape) + " of " + e.dtype + " needs " +
                              std::to_string(element_count(e.shape) * size));
    }
    e.data_begin = data_start + static_cast<int64_t>(begin);
    e.data_end = data_start + static_cast<int64_t>(end);
    entries_.emplace(name, std::move(e));
  }
}

const SafetensorsEntry* SafetensorsFile::find(const std::string& name) const {
  const auto it = entries_.find(name);
  return it == entries_.end() ? nullptr : &it->second;
}

std::vector<std::string> SafetensorsFile::names() const {
  std::vector<std::string> out;
  for (const auto& [name, e] : entries_) out.push_back(name);
  return out;
}

void SafetensorsFile::read(const std::string& name, std::span<float> out) const {
  const std::string tensor = path_.string() + ": tensor '" + name + "'";
  const SafetensorsEntry* e = find(name);
  if (e == nullptr) core::throw_input_error(tensor + " is missing");
  const int64_t n = element_count(e->shape);
  if (static_cast<int64_t>(out.size()) != n) {
    core::throw_input_error(tensor + " has shape " + shape_string(e->shape) + " (" +
                            std::to_string(n) + " values), expected " +
                            std::to_string(out.size()) + " values");
  }
  const int64_t size = e->dtype == "F32" ? 4 : (e->dtype == "BF16" || e->dtype == "F16") ? 2 : 0;
  if (size == 0) {
    core::throw_input_error(tensor + " has dtype '" + e->dtype +
                            "': expected BF16, F16 or F32");
  }
  std::ifstream in(path_, std::ios::binary);
  if (!in) core::throw_input_error(path_.string() + ": cannot open the safetensors file");
  in.seekg(e->data_begin);
  // In pieces of 4 Mi values, so a large embedding does not need a second full-size buffer.
  constexpr int64_t kPiece = int64_t{1} << 22;
  std::vector<unsigned char> buf(static_cast<size_t>(std::min(n, kPiece) * size));
  for (int64_t done = 0; done < n; done += kPiece) {
    const int64_t count = std::min(kPiece, n - done);
    in.read(reinterpret_cast<char*>(buf.data()), static_cast<std::streamsize>(count * size));
    if (in.gcount() != count * size) {
      core::throw_input_error(tensor + ": the file ended while reading its data (truncated)");
    }
    float* dst = out.data() + done;
    if (size == 4) {
      std::memcpy(dst, buf.data(), static_cast<size_t>(count) * 4);
    } else {
      const bool bf16 = e->dtype == "BF16";
      for (int64_t i = 0; i < count; ++i) {
        const uint16_t h = static_cast<uint16_t>(buf[2 * i] | (buf[2 * i + 1] << 8));
        dst[i] = bf16 ? bf16_to_float(h) : f16_to_float(h);
      }
    }
  }
}

SafetensorsCheckpoint::SafetensorsCheckpoint(const std::filesystem::path& dir) : dir_(dir) {
  const auto index_path = dir / "model.safetensors.index.json";
  const auto single = dir / "model.safetensors";
  std::error_code ec;
  if (std::filesystem::is_regular_file(index_path, ec)) {
    index_ = index_path.string();
    const std::string text = read_text(index_path, "safetensors index");
    json root;
    try {
      root = json::parse(text);
    } catch (const json::exception& e) {
      core::throw_input_error(index_ + ": not valid JSON (" + e.what() + ")");
    }
    if (!root.is_object() || !root.contains("weight_map") || !root["weight_map"].is_object()) {
      core::throw_input_error(index_ + ": expected an object with \"weight_map\": {tensor: file}");
    }
    for (const auto& [name, file] : root["weight_map"].items()) {
      if (!file.is_string()) {
        core::throw_input_error(index_ + ": weight_map[\"" + name + "\"]: expected a file name, got " +
                                file.dump());
      }
      weight_map_[name] = file.get<std::string>();
    }
    for (const auto& [name, file] : weight_map_) {
      if (files_.count(file)) continue;
      if (!std::filesystem::is_regular_file(dir / file, ec)) {
        core::throw_input_error(index_ + ": shard '" + file + "' (holding tensor '" + name +
                                "') is not in " + dir.string());
      }
      files_[file] = std::make_unique<SafetensorsFile>(dir / file);
    }
  } else if (std::filesystem::is_regular_file(single, ec)) {
    files_[""] = std::make_unique<SafetensorsFile>(single);
  } else {
    core::throw_input_error(dir.string() +
                            ": no model.safetensors or model.safetensors.index.json in the folder");
  }
}

bool SafetensorsCheckpoint::contains(const std::string& name) const {
  const SafetensorsFile* file = file_of(name);
  return file != nullptr && file->find(name) != nullptr;
}

const SafetensorsFile* SafetensorsCheckpoint::file_of(const std::string& name) const {
  if (index_.empty()) return files_.at("").get();
  const auto it = weight_map_.find(name);
  return it == weight_map_.end() ? nullptr : files_.at(it->second).get();
}

void SafetensorsCheckpoint::read(const std::string& name, std::span<const int64_t> shape,
                                 std::span<float> out) const {
  const SafetensorsFile* file = file_of(name);
  if (file == nullptr) {
    core::throw_input_error(index_ + ": tensor '" + name +
                            "' is missing from the weight_map (expected shape " +
                            shape_string(shape) + ")");
  }
  const SafetensorsEntry* e = file->find(name);
  if (e == nullptr) {
    core::throw_input_error(file->path().string() + ": tensor '" + name +
                            "' is missing (expected shape " + shape_string(shape) + ")");
  }
  if (!std::equal(e->shape.begin(), e->shape.end(), shape.begin(), shape.end())) {
    core::throw_input_error(file->path().string() + ": tensor '" + name + "' has shape " +
                            shape_string(e->shape) + ", expected " + shape_string(shape) +
                            " from the model config");
  }
  file->read(name, out);
}

void write_safetensors(const std::filesystem::path& path, std::span<const NamedTensor> tensors,
                       SafetensorsDtype dtype) {
  const int64_t size = dtype == SafetensorsDtype::kF32 ? 4 : 2;
  json header = json::object();
  int64_t offset = 0;
  for (const NamedTensor& t : tensors) {
    FLOWKV_CHECK(static_cast<int64_t>(t.data.size()) == element_count(t.shape),
                 "tensor '" + t.name + "': " + std::to_string(t.data.size()) +
                     " values for shape " + shape_string(t.shape));
    const int64_t bytes = static_cast<int64_t>(t.data.size()) * size;
    header[t.name] = {{"dtype", to_string(dtype)}, {"shape", t.shape},
                      {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  header["__metadata__"] = {{"format", "pt"}};
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // the data starts 8-byte aligned
  std::ofstream out(path, std::ios::binary);
  if (!out) core::throw_input_error(path.string() + ": cannot write the safetensors file");
  unsigned char len_bytes[8];
  for (int i = 0; i < 8; ++i) len_bytes[i] = static_cast<unsigned char>(text.size() >> (8 * i));
  out.write(reinterpret_cast<const char*>(len_bytes), 8);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  std::vector<unsigned char> buf;
  for (const NamedTensor& t : tensors) {
    buf.resize(t.data.size() * static_cast<size_t>(size));
    for (size_t i = 0; i < t.data.size(); ++i) {
      uint32_t bits;
      if (dtype == SafetensorsDtype::kF32) {
        std::memcpy(&bits, &t.data[i], 4);
        for (int b = 0; b < 4; ++b) buf[4 * i + b] = static_cast<unsigned char>(bits >> (8 * b));
        continue;
      }
      uint16_t h;
      if (dtype == SafetensorsDtype::kBF16) {
        const float r = round_to_bf16(t.data[i]);
        std::memcpy(&bits, &r, 4);
        h = static_cast<uint16_t>(bits >> 16);
      } else {
        h = float_to_f16(t.data[i]);
      }
      buf[2 * i] = static_cast<unsigned char>(h);
      buf[2 * i + 1] = static_cast<unsigned char>(h >> 8);
    }
    out.write(reinterpret_cast<const char*>(buf.data()), static_cast<std::streamsize>(buf.size()));
  }
  if (!out) core::throw_input_error(path.string() + ": writing the safetensors file failed");
}

}  // namespace flowkv::runtime
