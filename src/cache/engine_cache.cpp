// EngineCache's out-of-line destructor and TieredEngineCache.
#include "kiln/engine_cache.h"

#include <exception>

#include "core/check.h"
#include "core/log.h"
#include "kiln/error.h"

namespace kiln {

EngineCache::~EngineCache() = default;

namespace {

// Runs op on one tier; a throwing (custom) tier is logged and skipped so the
// other tiers still serve. API misuse (a bad key) still propagates.
template <typename Op>
bool on_tier(const char* what, const std::string& hash, Op&& op) {
  try {
    op();
    return true;
  } catch (const Error& e) {
    if (e.code() == ErrorCode::InvalidArgument) throw;
    log_warning(std::string("engine cache: tier ") + what + " of " + hash + " failed: " + e.what());
  } catch (const std::exception& e) {
    log_warning(std::string("engine cache: tier ") + what + " of " + hash + " failed: " + e.what());
  }
  return false;
}

}  // namespace

TieredEngineCache::TieredEngineCache(std::vector<EngineCache*> tiers) : m_tiers(std::move(tiers)) {
  for (EngineCache* t : m_tiers) check(t != nullptr, ErrorCode::InvalidArgument, "TieredEngineCache: null tier");
}

void TieredEngineCache::save(const std::string& hash, const std::vector<uint8_t>& blob) {
  for (EngineCache* t : m_tiers) on_tier("save", hash, [&] { t->save(hash, blob); });
}

std::optional<std::vector<uint8_t>> TieredEngineCache::load(const std::string& hash) {
  for (size_t i = 0; i < m_tiers.size(); ++i) {
    std::optional<std::vector<uint8_t>> bytes;
    on_tier("load", hash, [&] { bytes = m_tiers[i]->load(hash); });
    if (!bytes) continue;
    for (size_t j = 0; j < i; ++j) on_tier("fill", hash, [&] { m_tiers[j]->save(hash, *bytes); });
    return bytes;
  }
  return std::nullopt;
}

void TieredEngineCache::discard(const std::string& hash) {
  for (EngineCache* t : m_tiers) on_tier("discard", hash, [&] { t->discard(hash); });
}

std::optional<std::filesystem::path> TieredEngineCache::local_dir() const {
  for (EngineCache* t : m_tiers)
    if (auto d = t->local_dir()) return d;
  return std::nullopt;
}

std::unique_ptr<BuildLock> TieredEngineCache::lock_for_build(const std::string& hash,
                                                             std::chrono::milliseconds timeout) {
  std::unique_ptr<BuildLock> lock;
  for (EngineCache* t : m_tiers) {
    on_tier("lock", hash, [&] { lock = t->lock_for_build(hash, timeout); });
    if (lock) break;
  }
  return lock;
}

}  // namespace kiln
