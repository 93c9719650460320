// Safetensors: a model written as a Hugging Face checkpoint (one file, or shards with an index;
// BF16, F16 or F32) loads back identical to the source weights; every malformed file or
// mismatch with the config is an input error naming the file and the tensor.
#include "runtime/model/safetensors.h"

#include <gtest/gtest.h>

#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "core/base/error.h"
#include "runtime/model/llama_tensors.h"
#include "runtime/model/model_weights.h"
#include "tests/scratch.h"

namespace flowkv::runtime {
namespace {

using flowkv::testing::TempDir;

core::ModelSpec tiny() { return core::find_model("tiny-llama"); }

void expect_same(const ModelWeights& a, const ModelWeights& b) {
  EXPECT_EQ(a.embed, b.embed);
  EXPECT_EQ(a.final_norm, b.final_norm);
  EXPECT_EQ(a.lm_head, b.lm_head);
  ASSERT_EQ(a.layers.size(), b.layers.size());
  for (size_t l = 0; l < a.layers.size(); ++l) {
    EXPECT_EQ(a.layers[l].attn_norm, b.layers[l].attn_norm) << l;
    EXPECT_EQ(a.layers[l].qkv, b.layers[l].qkv) << l;
    EXPECT_EQ(a.layers[l].qkv_bias, b.layers[l].qkv_bias) << l;
    EXPECT_EQ(a.layers[l].o, b.layers[l].o) << l;
    EXPECT_EQ(a.layers[l].mlp_norm, b.layers[l].mlp_norm) << l;
    EXPECT_EQ(a.layers[l].gate_up, b.layers[l].gate_up) << l;
    EXPECT_EQ(a.layers[l].down, b.layers[l].down) << l;
  }
}

std::string input_error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const core::Error& e) {
    EXPECT_EQ(e.kind(), core::ErrorKind::kInvalidInput) << e.what();
    return e.what();
  }
  return "no error";
}

#define EXPECT_HAS(text, part) \
  EXPECT_NE((text).find(part), std::string::npos) << "'" << (part) << "' not in: " << (text)

TEST(Safetensors, SingleFileRoundTripsBf16AndF32) {
  const ModelWeights w = random_weights(tiny(), 9);
  for (const SafetensorsDtype dtype : {SafetensorsDtype::kBF16, SafetensorsDtype::kF32}) {
    TempDir dir;
    save_safetensors(w, dir.path(), dtype);
    const ModelWeights back = load_safetensors(tiny(), dir.path());
    EXPECT_FALSE(back.random);
    expect_same(w, back);  // the random weights are bf16 values: exact in both dtypes
  }
}

TEST(Safetensors, ShardsWithAnIndexRoundTrip) {
  core::ModelSpec s = tiny();
  s.attention_bias = true;
  const ModelWeights w = random_weights(s, 10);
  TempDir dir;
  save_safetensors(w, dir.path(), SafetensorsDtype::kBF16, 2);
  EXPECT_TRUE(std::filesystem::exists(dir.path() / "model-00001-of-00002.safetensors"));
  EXPECT_TRUE(std::filesystem::exists(dir.path() / "model-00002-of-00002.safetensors"));
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "model.safetensors"));
  expect_same(w, load_safetensors(s, dir.path()));
}

TEST(Safetensors, TiedEmbeddingsNeedNoLmHead) {
  core::ModelSpec s = tiny();
  s.tie_word_embeddings = true;
  const ModelWeights w = random_weights(s, 11);
  TempDir dir;
  save_safetensors(w, dir.path(), SafetensorsDtype::kF32);
  const SafetensorsFile f(dir.path() / "model.safetensors");
  EXPECT_EQ(f.find("lm_head.weight"), nullptr);
  const ModelWeights back = load_safetensors(s, dir.path());
  EXPECT_EQ(back.lm_head, back.embed);
  expect_same(w, back);
}

TEST(Safetensors, F16ConvertsExactlyAndRoundsToNearestEven) {
  TempDir dir;
  // 1 + 2^-11 is halfway between two halves (even: 1), 1 + 3 * 2^-11 rounds up; 2^-20 is a
  // subnormal half; 65504 the largest.
  const std::vector<float> v = {1.0f + 1.0f / 2048, 1.0f + 3.0f / 2048, -0.5f, 0x1p-20f, 65504.0f};
  const NamedTensor t{"x", {5}, v};
  write_safetensors(dir.path() / "a.safetensors", std::span(&t, 1), SafetensorsDtype::kF16);
  const SafetensorsFile f(dir.path() / "a.safetensors");
  EXPECT_EQ(f.find("x")->dtype, "F16");
  std::vector<float> back(5);
  f.read("x", back);
  EXPECT_EQ(back, (std::vector<float>{1.0f, 1.0f + 4.0f / 2048, -0.5f, 0x1p-20f, 65504.0f}));
}

// ------------------------------------------------------------------------------ error cases

// Writes a file with a hand-made header and `data_bytes` bytes of data.
std::filesystem::path raw_file(const TempDir& dir, const std::string& header, size_t data_bytes) {
  std::string bytes(8, '\0');
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>((header.size() >> (8 * i)) & 0xFF);
  bytes += header;
  bytes += std::string(data_bytes, '\0');
  return dir.write("bad.safetensors", bytes);
}

TEST(Safetensors, MissingTensorNamesItAndTheFile) {
  const ModelWeights w = random_weights(tiny(), 1);
  TempDir dir;
  std::vector<NamedTensor> tensors;
  for (const LlamaTensor& t : llama_tensors(tiny())) {
    if (t.name != "model.layers.1.mlp.up_proj.weight") tensors.push_back({t.name, t.shape, tensor_span(w, t)});
  }
  write_safetensors(dir.path() / "model.safetensors", tensors, SafetensorsDtype::kBF16);
  const std::string e = input_error_of([&] { load_safetensors(tiny(), dir.path()); });
  EXPECT_HAS(e, "model.safetensors: tensor 'model.layers.1.mlp.up_proj.weight' is missing "
                "(expected shape [384, 128])");
}

TEST(Safetensors, WrongShapeNamesTheTensorAndTheExpectedShape) {
  // A config with a different intermediate size than the checkpoint's.
  TempDir dir;
  save_safetensors(random_weights(tiny(), 1), dir.path(), SafetensorsDtype::kBF16);
  core::ModelSpec other = tiny();
  other.intermediate_size = 256;
  const std::string e = input_error_of([&] { load_safetensors(other, dir.path()); });
  EXPECT_HAS(e, "tensor 'model.layers.0.mlp.gate_proj.weight' has shape [384, 128], expected "
                "[256, 128] from the model config");
}

TEST(Safetensors, BadHeadersAreNamed) {
  TempDir dir;
  EXPECT_HAS(input_error_of([&] { SafetensorsFile(dir.write("short.safetensors", "abc")); }),
             "short.safetensors: 3 bytes, too short");
  EXPECT_HAS(input_error_of([&] { SafetensorsFile(raw_file(dir, "{not json", 0)); }),
             "bad.safetensors: the header is not valid JSON");
  EXPECT_HAS(input_error_of([&] { SafetensorsFile(raw_file(dir, "[1, 2]", 0)); }),
             "the header is not a JSON object of tensors");
  EXPECT_HAS(input_error_of([&] { SafetensorsFile(raw_file(dir, R"({"w": {"dtype": "F32"}})", 0)); }),
             "bad.safetensors: tensor 'w': expected {\"dtype\": string");
  // A header length far past the end of the file.
  std::string bytes(8, '\0');
  bytes[0] = '\x10';
  bytes[1] = '\x27';  // 10000
  bytes += "{}";
  EXPECT_HAS(input_error_of([&] { SafetensorsFile(dir.write("len.safetensors", bytes)); }),
             "len.safetensors: header length 10000 runs past the end of the file (10 bytes)");
}

TEST(Safetensors, TruncatedDataIsNamed) {
  TempDir dir;
  const auto p = raw_file(
      dir, R"({"w": {"dtype": "F32", "shape": [4, 4], "data_offsets": [0, 64]}})", 40);
  EXPECT_HAS(input_error_of([&] { SafetensorsFile f(p); }),
             "bad.safetensors: tensor 'w': data_offsets [0,64] run past the end of the data (40 "
             "bytes): the file is truncated");
  // A file cut short after a real checkpoint was written.
  save_safetensors(random_weights(tiny(), 1), dir.path() / "model", SafetensorsDtype::kBF16);
  const auto model = dir.path() / "model" / "model.safetensors";
  std::filesystem::resize_file(model, std::filesystem::file_size(model) - 100);
  const std::string e = input_error_of([&] { load_safetensors(tiny(), dir.path() / "model"); });
  EXPECT_HAS(e, "model.safetensors: tensor '");
  EXPECT_HAS(e, "the file is truncated");
  // Offsets that disagree with the shape.
  const auto q = raw_file(
      dir, R"({"w": {"dtype": "BF16", "shape": [4, 4], "data_offsets": [0, 64]}})", 64);
  EXPECT_HAS(input_error_of([&] { SafetensorsFile f(q); }),
             "tensor 'w': data_offsets [0,64] hold 64 bytes, but shape [4, 4] of BF16 needs 32");
}

TEST(Safetensors, UnknownOrUnsupportedDtypeIsNamed) {
  TempDir dir;
  const auto p = raw_file(
      dir,
      R"({"w": {"dtype": "Q4_K", "shape": [2], "data_offsets": [0, 4]}, "i": {"dtype": "I8", "shape": [2], "data_offsets": [4, 6]}, "__metadata__": {"format": "pt"}})",
      6);
  const SafetensorsFile f(p);  // readable header: the dtype matters only when read
  std::vector<float> out(2);
  EXPECT_HAS(input_error_of([&] { f.read("w", out); }),
             "bad.safetensors: tensor 'w' has dtype 'Q4_K': expected BF16, F16 or F32");
  EXPECT_HAS(input_error_of([&] { f.read("i", out); }), "tensor 'i' has dtype 'I8'");
  EXPECT_EQ(f.names(), (std::vector<std::string>{"i", "w"}));
}

TEST(Safetensors, IndexErrorsNameTheIndexAndTheShard) {
  TempDir dir;
  const ModelWeights w = random_weights(tiny(), 1);
  save_safetensors(w, dir.path(), SafetensorsDtype::kBF16, 2);
  const auto index = dir.path() / "model.safetensors.index.json";
  nlohmann::json j = nlohmann::json::parse(flowkv::testing::read_file(index));
  // A tensor the index does not list.
  j["weight_map"].erase("model.norm.weight");
  std::ofstream(index) << j.dump();
  EXPECT_HAS(input_error_of([&] { load_safetensors(tiny(), dir.path()); }),
             "model.safetensors.index.json: tensor 'model.norm.weight' is missing from the "
             "weight_map (expected shape [128])");
  // A shard that is not there.
  j["weight_map"]["model.norm.weight"] = "model-00009-of-00009.safetensors";
  std::ofstream(index) << j.dump();
  EXPECT_HAS(input_error_of([&] { load_safetensors(tiny(), dir.path()); }),
             "shard 'model-00009-of-00009.safetensors' (holding tensor 'model.norm.weight') is "
             "not in");
  std::ofstream(index) << "{oops";
  EXPECT_HAS(input_error_of([&] { load_safetensors(tiny(), dir.path()); }),
             "model.safetensors.index.json: not valid JSON");
  TempDir empty;
  EXPECT_HAS(input_error_of([&] { load_safetensors(tiny(), empty.path()); }),
             "no model.safetensors or model.safetensors.index.json in the folder");
}

}  // namespace
}  // namespace flowkv::runtime
