// Writes the fuzz targets' seed corpus (scripts/fuzz.sh --seeds):
//   fuzz_seeds OUT_DIR MODEL.onnx...
// From models spread over the list (ONNX conformance models, sorted: many
// ops), small ones only so the kept corpus stays well under 200 KB:
//   OUT_DIR/fuzz_onnx_import/<name>.onnx   the model bytes
//   OUT_DIR/fuzz_engine/<name>.kiln        0x00 (skip the checksum) + its engine
//   OUT_DIR/fuzz_cache_entry/<name>.entry  the engine packed as a cache entry
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "cache/cache_entry.h"
#include "core/sha256.h"
#include "kiln/builder.h"
#include "kiln/error.h"
#include "kiln/model.h"

namespace fs = std::filesystem;

namespace {

constexpr size_t k_models = 100, k_engines = 20;
constexpr size_t k_max_model_bytes = 1536, k_max_engine_bytes = 4096;

void write(const fs::path& path, const std::vector<uint8_t>& bytes) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()),
                                               static_cast<std::streamsize>(bytes.size()));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: fuzz_seeds OUT_DIR MODEL.onnx...\n");
    return 2;
  }
  const fs::path out = argv[1];
  std::vector<fs::path> models;
  for (int i = 2; i < argc; ++i)
    if (fs::file_size(argv[i]) <= k_max_model_bytes) models.push_back(argv[i]);
  const size_t step = std::max<size_t>(models.size() / k_models, 1);
  size_t n_models = 0, n_engines = 0;
  for (size_t i = 0; i < models.size() && n_models < k_models; i += step) {
    const fs::path& p = models[i];
    const std::string name = p.parent_path().filename().string();  // node/<test>/model.onnx
    std::ifstream in(p, std::ios::binary);
    const std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), {});
    write(out / "fuzz_onnx_import" / (name + ".onnx"), bytes);
    ++n_models;
    if (n_engines >= k_engines || n_models % (k_models / k_engines) != 1) continue;  // spread over the list
    try {
      kiln::BuildConfig config;
      config.optimization_level = 0;  // no kernel timing: seeds in seconds
      const kiln::Engine engine = kiln::build_engine(kiln::Model::load(p.string()), config);
      std::vector<uint8_t> e = engine.serialize();
      if (e.size() > k_max_engine_bytes) continue;
      kiln::CacheEntry entry;
      entry.engine = e;
      for (const auto& s : engine.inputs()) entry.input_names.push_back(s.name);
      for (const auto& s : engine.outputs()) entry.output_names.push_back(s.name);
      write(out / "fuzz_cache_entry" / (name + ".entry"), kiln::cache::pack_entry(entry, kiln::sha256_hex(name)));
      e.insert(e.begin(), uint8_t{0});
      write(out / "fuzz_engine" / (name + ".kiln"), e);
      ++n_engines;
    } catch (const kiln::Error& err) {
      std::fprintf(stderr, "no engine for %s: %s\n", name.c_str(), err.what());
    }
  }
  std::printf("%zu models, %zu engines and cache entries in %s\n", n_models, n_engines, out.c_str());
  return 0;
}
