// Model → Engine through an engine cache: the fast-start path. On a hit the
// engine is loaded and verified instead of built; on a miss it is built and
// stored. With a DiskEngineCache, one process builds a given key while others
// wait for it and then load.
#pragma once

#include <chrono>
#include <string>

#include "kiln/builder.h"
#include "kiln/engine.h"
#include "kiln/engine_cache.h"
#include "kiln/model.h"

namespace kiln {

struct CompileOptions {
  BuildConfig build;
  EngineCache* cache = nullptr;  // nullptr: always build, store nothing
  std::chrono::milliseconds lock_timeout = std::chrono::minutes(10);
};

struct CompileResult {
  Engine engine;
  bool cache_hit = false;
  std::string key;       // hex SHA-256 (see src/cache/cache_key.h)
  double seconds = 0;    // time spent building or loading
};

CompileResult compile(const Model& model, const CompileOptions& options);

// Like compile(), from a file: with a DiskEngineCache a warm start finds the
// engine through a manifest of the file's identity without reading the model
// (src/cache/manifest.h), except for weightless engines, which refit from it.
CompileResult compile_file(const std::string& model_path, const CompileOptions& options);

// What compile() stores in an engine cache for `engine`: its bytes, I/O
// specs and weight list (also what the Python caches store).
CacheEntry cache_entry_of(const Engine& engine);

// What the key of (model, config) is made of, field by field — for `kiln cache explain`.
std::vector<std::pair<std::string, std::string>> explain_cache_key(const Model& model, const BuildConfig& config);

}  // namespace kiln
