#include "cache/manifest.h"

#include <sys/stat.h>

#include "cache/cache_entry.h"
#include "core/atomic_file.h"
#include "core/file_util.h"
#include "core/log.h"
#include "core/sha256.h"

namespace kiln::cache {

namespace fs = std::filesystem;

std::string direct_key(const std::string& model_path, const BuildConfig& config, const std::string& env) {
  std::error_code ec;
  const fs::path real = fs::canonical(model_path, ec);
  struct stat st {};
  if (ec || ::stat(real.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return "";
  Sha256 h;
  h.field("kind", "kiln-direct-v1");
  h.field("path", real.string());
  h.field("stat", std::to_string(st.st_size) + ":" + std::to_string(st.st_ino) + ":" + std::to_string(st.st_dev) +
                      ":" + std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec) + ":" +
                      std::to_string(st.st_ctim.tv_sec) + "." + std::to_string(st.st_ctim.tv_nsec));
  h.field("env", env);
  for (const std::string& f : config.invariant_fields()) h.field("config", f);
  return to_hex(h.finish());
}

std::optional<std::string> read_manifest(const fs::path& cache_dir, const std::string& dk) {
  if (dk.empty()) return std::nullopt;
  try {
    const std::string key = read_file((cache_dir / ".manifests" / dk).string(), "manifest", 4096);
    if (!is_valid_cache_key(key)) return std::nullopt;
    return key;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

void write_manifest(const fs::path& cache_dir, const std::string& dk, const std::string& key) {
  if (dk.empty()) return;
  try {
    fs::create_directories(cache_dir / ".manifests");
    write_file_atomic(cache_dir / ".manifests" / dk,
                      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(key.data()), key.size()));
  } catch (const std::exception& e) {
    log_debug(std::string("manifest not written: ") + e.what());
  }
}

}  // namespace kiln::cache
