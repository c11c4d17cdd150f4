// Direct mode (as ccache's): a manifest maps the identity of a model file —
// its real path, size, inode, mtime and ctime in nanoseconds — plus the build
// settings and environment to the full engine-cache key. A warm start then
// reads neither the model nor its weights to find its engine. Any change to
// the file changes its size or times, so the manifest misses and the full key
// is computed as usual. Stored as {cache dir}/.manifests/{direct key}.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "kiln/builder.h"

namespace kiln::cache {

// "" when the file cannot be stat'ed (then there is no direct mode).
std::string direct_key(const std::string& model_path, const BuildConfig& config, const std::string& env_fingerprint);
std::optional<std::string> read_manifest(const std::filesystem::path& cache_dir, const std::string& direct_key);
// Best effort: a failure only costs the next warm start some time.
void write_manifest(const std::filesystem::path& cache_dir, const std::string& direct_key, const std::string& key);

}  // namespace kiln::cache
