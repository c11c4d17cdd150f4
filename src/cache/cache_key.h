// The engine-cache key: SHA-256 over, field by field with delimiters, everything
// that shapes an engine —
//   format      kiln engine format version and kiln version
//   env         backend fingerprint (ISA or SM arch, kernel library versions)
//   graph       canonical graph text (names normalized, see ir/serialize.h)
//   weights     digest of every constant in canonical order (absent when weightless)
//   inputs      dtype and declared shape of each input, in order
//   config      BuildConfig::invariant_fields()
// Nothing else: log level, progress callbacks and file paths stay out, so
// renaming a tensor or moving the model keeps the key.
#pragma once

#include <string>
#include <vector>

#include "ir/graph.h"
#include "kiln/builder.h"

namespace kiln::cache {

struct KeyField {
  std::string name;
  std::string shown;  // what `kiln cache explain` prints (digests for big fields)
};

struct CacheKey {
  std::string hex;
  std::vector<KeyField> fields;
};

CacheKey engine_cache_key(const ir::Graph& graph, const BuildConfig& config, const std::string& env_fingerprint);

}  // namespace kiln::cache
