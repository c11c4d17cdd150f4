#include "kiln/compile.h"

#include <chrono>

#include "backends/backend.h"
#include "cache/cache_entry.h"
#include "cache/cache_key.h"
#include "cache/manifest.h"
#include "core/log.h"
#include "engine/engine_data.h"
#include "engine/format.h"
#include "kiln/error.h"
#include "onnx/model_data.h"

namespace kiln {

namespace {

using Clock = std::chrono::steady_clock;

std::string backend_fingerprint(const BuildConfig& config) { return backend::backend_for(config.device).fingerprint(); }


// A hit is used only when the stored engine agrees with what the entry says.
std::optional<Engine> engine_from_entry(const CacheEntry& entry, const std::string& key) {
  // unpack_entry verified the entry's SHA-256, which covers these bytes.
  Engine engine(std::make_shared<const detail::EngineData>(
      engine::read_engine(entry.engine.data(), entry.engine.size(), "cache entry " + key, false)));
  if (engine.inputs().size() != entry.input_specs.size()) return std::nullopt;
  for (size_t i = 0; i < entry.input_specs.size(); ++i) {
    const auto& s = engine.inputs()[i];
    const auto& c = entry.input_specs[i];
    if (s.dtype != c.dtype || s.min != c.min || s.opt != c.opt || s.max != c.max) return std::nullopt;
  }
  return engine;
}

std::optional<Engine> try_load(EngineCache& cache, const std::string& key) {
  try {
    auto entry = cache::load_entry(cache, key);
    if (!entry) return std::nullopt;
    auto engine = engine_from_entry(*entry, key);
    if (!engine) {
      log_warning("engine cache entry " + key + " does not match its metadata; rebuilding");
      cache.discard(key);
    }
    return engine;
  } catch (const Error& e) {
    if (e.code() != ErrorCode::Corrupt && e.code() != ErrorCode::Incompatible) throw;
    log_warning("engine cache entry " + key + " unusable (" + e.message() + "); rebuilding");
    cache.discard(key);
    return std::nullopt;
  }
}

}  // namespace

std::vector<std::pair<std::string, std::string>> explain_cache_key(const Model& model, const BuildConfig& config) {
  const cache::CacheKey key = cache::engine_cache_key(model.data()->graph, config, backend_fingerprint(config));
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& f : key.fields) out.emplace_back(f.name, f.shown);
  out.emplace_back("key", key.hex);
  return out;
}

CacheEntry cache_entry_of(const Engine& engine) {
  CacheEntry e;
  e.engine = engine.serialize();
  for (const auto& s : engine.inputs()) {
    e.input_names.push_back(s.name);
    e.input_specs.push_back({s.name, s.dtype, s.min, s.opt, s.max});
  }
  for (const auto& s : engine.outputs()) e.output_names.push_back(s.name);
  const auto& data = *engine.data();
  if (data.weightless) {
    for (ir::ValueId id : data.weights) {
      const auto& v = data.graph.value(id);
      e.weights.push_back({v.name, v.dtype, v.shape ? ir::to_shape(*v.shape) : Shape{}});
    }
  } else {
    for (const auto& v : data.graph.values)
      if (v.constant) e.weights.push_back({v.name, v.constant->dtype(), v.constant->shape()});
  }
  e.needs_output_allocator = engine.needs_output_allocator();
  return e;
}

CompileResult compile(const Model& model, const CompileOptions& options) {
  const auto start = Clock::now();
  CompileResult result;
  result.key = cache::engine_cache_key(model.data()->graph, options.build, backend_fingerprint(options.build)).hex;
  auto done = [&](Engine engine, bool hit) {
    result.engine = engine.needs_refit() ? engine.refit(model) : std::move(engine);
    result.cache_hit = hit;
    result.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    return result;
  };

  std::unique_ptr<BuildLock> lock;  // held until the built engine is stored
  if (options.cache) {
    if (auto hit = try_load(*options.cache, result.key)) return done(*hit, true);
    lock = options.cache->lock_for_build(result.key, options.lock_timeout);
    if (auto hit = try_load(*options.cache, result.key)) return done(*hit, true);  // built while we waited
  }
  Engine built = build_engine(model, options.build);
  // save_entry logs (never throws) when the cache cannot store it.
  if (options.cache) cache::save_entry(*options.cache, result.key, cache_entry_of(built));
  return done(std::move(built), false);
}

CompileResult compile_file(const std::string& model_path, const CompileOptions& options) {
  const auto start = Clock::now();
  // Manifests live in the cache's local directory (the disk tier's, also
  // behind a Redis tier), whatever the cache in front of it.
  const std::optional<std::filesystem::path> dir = options.cache ? options.cache->local_dir() : std::nullopt;
  std::string dk;
  CompileResult r;
  if (dir && !options.build.weightless) {
    dk = cache::direct_key(model_path, options.build, backend_fingerprint(options.build));
    if (auto key = cache::read_manifest(*dir, dk)) {
      if (auto hit = try_load(*options.cache, *key)) {
        r.engine = *hit;
        r.cache_hit = true;
        r.key = *key;
      }
    }
  }
  if (!r.cache_hit) {
    r = compile(Model::load(model_path), options);
    if (dir && !dk.empty()) cache::write_manifest(*dir, dk, r.key);
  }
  r.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return r;
}

}  // namespace kiln
