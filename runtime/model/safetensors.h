// Hugging Face safetensors: reading a checkpoint's tensors as float32, and a small writer.
//
// A .safetensors file is an 8-byte little-endian header length N, N bytes of JSON
//   {"<name>": {"dtype": "BF16", "shape": [rows, cols], "data_offsets": [begin, end]}, ...,
//    "__metadata__": {...}}   (ignored)
// and then the data, offsets counted from the end of the header. A checkpoint folder holds one
// model.safetensors, or shards listed by model.safetensors.index.json ({"weight_map":
// {"<name>": "<shard file>"}}).
//
// Errors: anything wrong with a file (too short, a header that is not JSON or not the format, a
// tensor whose data runs past the end, an unknown or unsupported dtype, a missing tensor, a
// wrong shape) is core::throw_input_error naming the file, the tensor and what was expected.
// Reading: BF16, F16 and F32 are converted to float32 (exactly: every value is representable).
// Threading: the objects are immutable after construction; reads open the file each time, so
// concurrent reads are safe.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace flowkv::runtime {

struct SafetensorsEntry {
  std::string dtype;            // "BF16", "F16", "F32", ... as written
  std::vector<int64_t> shape;
  int64_t data_begin = 0;       // bytes from the start of the file
  int64_t data_end = 0;
};

// One .safetensors file; the constructor reads and validates its header.
class SafetensorsFile {
 public:
  explicit SafetensorsFile(const std::filesystem::path& path);

  const std::filesystem::path& path() const { return path_; }
  const SafetensorsEntry* find(const std::string& name) const;
  std::vector<std::string> names() const;
  // Tensor `name` converted to float32 into `out` (exactly its element count).
  void read(const std::string& name, std::span<float> out) const;

 private:
  std::filesystem::path path_;
  std::map<std::string, SafetensorsEntry> entries_;
};

// The tensors of a checkpoint folder (one file, or the shards of an index).
class SafetensorsCheckpoint {
 public:
  explicit SafetensorsCheckpoint(const std::filesystem::path& dir);

  bool contains(const std::string& name) const;
  // Reads tensor `name`, which must have exactly `shape`, into `out`.
  void read(const std::string& name, std::span<const int64_t> shape, std::span<float> out) const;

 private:
  // The file that holds `name` (per the index), nullptr when the index does not list it.
  const SafetensorsFile* file_of(const std::string& name) const;

  std::filesystem::path dir_;
  std::string index_;  // the index file's path, "" for a single file
  std::map<std::string, std::string> weight_map_;   // tensor -> shard file name
  std::map<std::string, std::unique_ptr<SafetensorsFile>> files_;  // shard file name -> file
};

enum class SafetensorsDtype { kBF16, kF16, kF32 };
const char* to_string(SafetensorsDtype dtype);

struct NamedTensor {
  std::string name;
  std::vector<int64_t> shape;
  std::span<const float> data;  // row-major, the shape's element count
};

// Writes one .safetensors file (tensors in the given order; BF16/F16 rounded to nearest even).
// For tests and tools; an unwritable path is an input error.
void write_safetensors(const std::filesystem::path& path, std::span<const NamedTensor> tensors,
                       SafetensorsDtype dtype);

// "[4, 128]"
std::string shape_string(std::span<const int64_t> shape);

}  // namespace flowkv::runtime
