#include "cache/cache_entry.h"

#include <algorithm>
#include <cstring>
#include <exception>

#include "core/bytes.h"
#include "core/check.h"
#include "core/log.h"
#include "core/sha256.h"

namespace kiln::cache {

namespace {

constexpr size_t k_max_rank = 64;
constexpr size_t k_checksum_size = 32;
constexpr uint32_t k_flag_output_allocator = 1u << 0;

std::string what_for(std::string_view hash) { return "cache entry " + std::string(hash.substr(0, 80)); }

void put_shape(ByteWriter& w, const Shape& shape) {
  w.put<uint64_t>(shape.size());
  for (int64_t d : shape) w.put<int64_t>(d);
}

void put_names(ByteWriter& w, const std::vector<std::string>& names) {
  w.put<uint64_t>(names.size());
  for (const auto& n : names) w.put_str(n);
}

Shape get_shape(ByteReader& r) {
  const uint64_t rank = r.get_count(sizeof(int64_t));
  if (rank > k_max_rank) r.fail("rank " + std::to_string(rank) + " is implausible");
  Shape shape(rank);
  for (auto& d : shape) d = r.get<int64_t>();
  return shape;
}

DataType get_dtype(ByteReader& r) {
  const int32_t v = r.get<int32_t>();
  if (v < 0 || v > static_cast<int32_t>(DataType::BFloat16)) r.fail("unknown dtype " + std::to_string(v));
  return static_cast<DataType>(v);
}

std::vector<std::string> get_names(ByteReader& r) {
  std::vector<std::string> names(r.get_count(sizeof(uint32_t)));
  for (auto& n : names) n = r.get_str();
  return names;
}

Digest checksum_of(std::span<const uint8_t> header_prefix, std::span<const uint8_t> payload) {
  Sha256 h;
  h.update(header_prefix).update(payload);
  return h.finish();
}

}  // namespace

bool is_valid_cache_key(std::string_view hash) {
  if (hash.empty() || hash.size() > 128) return false;
  return std::all_of(hash.begin(), hash.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '-';
  });
}

std::vector<uint8_t> pack_entry(const CacheEntry& entry, std::string_view hash) {
  check(!hash.empty() && hash.size() <= k_max_key_size, ErrorCode::InvalidArgument,
        "cache key must be 1.." + std::to_string(k_max_key_size) + " bytes, got " + std::to_string(hash.size()));
  ByteWriter meta;
  put_names(meta, entry.input_names);
  put_names(meta, entry.output_names);
  meta.put<uint64_t>(entry.input_specs.size());
  for (const auto& s : entry.input_specs) {
    meta.put_str(s.name);
    meta.put<int32_t>(static_cast<int32_t>(s.dtype));
    put_shape(meta, s.min);
    put_shape(meta, s.opt);
    put_shape(meta, s.max);
  }
  meta.put<uint64_t>(entry.weights.size());
  for (const auto& w : entry.weights) {
    meta.put_str(w.name);
    meta.put<int32_t>(static_cast<int32_t>(w.dtype));
    put_shape(meta, w.shape);
  }
  meta.put<uint32_t>(entry.needs_output_allocator ? k_flag_output_allocator : 0u);

  ByteWriter header;
  header.put_bytes(k_entry_magic, sizeof k_entry_magic);
  header.put<uint32_t>(k_entry_format_version);
  header.put<uint32_t>(static_cast<uint32_t>(hash.size()));
  header.put_bytes(hash.data(), hash.size());
  header.put<uint64_t>(meta.size());
  header.put<uint64_t>(entry.engine.size());
  const size_t checksum_at = header.size();

  std::vector<uint8_t> out;
  out.reserve(checksum_at + k_checksum_size + meta.size() + entry.engine.size());
  out.insert(out.end(), header.bytes().begin(), header.bytes().end());
  out.resize(out.size() + k_checksum_size);
  const size_t payload_at = out.size();
  out.insert(out.end(), meta.bytes().begin(), meta.bytes().end());
  out.insert(out.end(), entry.engine.begin(), entry.engine.end());

  const std::span<const uint8_t> all(out);
  const Digest sum = checksum_of(all.first(checksum_at), all.subspan(payload_at));
  std::memcpy(out.data() + checksum_at, sum.data(), sum.size());
  return out;
}

namespace {

// magic, version, key: the header up to the key, read by `r`.
std::string_view read_key(ByteReader& r, std::span<const uint8_t> bytes) {
  if (bytes.size() < sizeof k_entry_magic || std::memcmp(bytes.data(), k_entry_magic, sizeof k_entry_magic) != 0)
    r.fail(bytes.empty() ? "empty" : "bad magic (not a kiln cache entry)");
  r.take(sizeof k_entry_magic);
  const uint32_t version = r.get<uint32_t>();
  if (version != k_entry_format_version)
    r.fail("format version " + std::to_string(version) + ", expected " + std::to_string(k_entry_format_version));
  const uint32_t key_size = r.get<uint32_t>();
  if (key_size == 0 || key_size > k_max_key_size) r.fail("key size " + std::to_string(key_size) + " is implausible");
  return {reinterpret_cast<const char*>(r.take(key_size)), key_size};
}

}  // namespace

std::string entry_key(std::span<const uint8_t> bytes) {
  ByteReader r(bytes.data(), bytes.size(), "engine-cache entry");
  return std::string(read_key(r, bytes));
}

EntryFrame check_entry_frame(std::span<const uint8_t> bytes, std::string_view expected_hash) {
  ByteReader r(bytes.data(), bytes.size(), what_for(expected_hash));
  const std::string_view key = read_key(r, bytes);
  if (key != expected_hash)
    r.fail("holds the entry of another key (" + std::string(key.substr(0, 80)) + ")");
  EntryFrame frame;
  frame.meta_size = r.get<uint64_t>();
  frame.engine_size = r.get<uint64_t>();
  r.take(k_checksum_size);
  frame.header_size = r.pos();
  const uint64_t rest = r.remaining();
  if (frame.meta_size > rest || frame.engine_size != rest - frame.meta_size)
    r.fail("sizes (meta " + std::to_string(frame.meta_size) + " + engine " + std::to_string(frame.engine_size) +
           ") do not match the " + std::to_string(rest) + " payload bytes present");
  return frame;
}

CacheEntry unpack_entry(std::span<const uint8_t> bytes, std::string_view expected_hash) {
  const EntryFrame frame = check_entry_frame(bytes, expected_hash);
  const size_t checksum_at = frame.header_size - k_checksum_size;
  const Digest sum = checksum_of(bytes.first(checksum_at), bytes.subspan(frame.header_size));
  if (std::memcmp(sum.data(), bytes.data() + checksum_at, k_checksum_size) != 0)
    throw Error(ErrorCode::Corrupt, what_for(expected_hash) + ": checksum mismatch");

  ByteReader r(bytes.data() + frame.header_size, frame.meta_size, what_for(expected_hash) + " metadata");
  CacheEntry entry;
  entry.input_names = get_names(r);
  entry.output_names = get_names(r);
  entry.input_specs.resize(r.get_count(sizeof(uint32_t) + sizeof(int32_t) + 3 * sizeof(uint64_t)));
  for (auto& s : entry.input_specs) {
    s.name = r.get_str();
    s.dtype = get_dtype(r);
    s.min = get_shape(r);
    s.opt = get_shape(r);
    s.max = get_shape(r);
  }
  entry.weights.resize(r.get_count(sizeof(uint32_t) + sizeof(int32_t) + sizeof(uint64_t)));
  for (auto& w : entry.weights) {
    w.name = r.get_str();
    w.dtype = get_dtype(r);
    w.shape = get_shape(r);
  }
  const uint32_t flags = r.get<uint32_t>();
  if (flags & ~k_flag_output_allocator) r.fail("unknown flags " + std::to_string(flags));
  entry.needs_output_allocator = flags & k_flag_output_allocator;
  if (r.remaining() != 0) r.fail(std::to_string(r.remaining()) + " unexpected bytes after the metadata");

  const uint8_t* engine = bytes.data() + frame.header_size + frame.meta_size;
  entry.engine.assign(engine, engine + frame.engine_size);
  return entry;
}

std::optional<CacheEntry> load_entry(EngineCache& cache, const std::string& hash) {
  std::optional<std::vector<uint8_t>> bytes;
  try {
    bytes = cache.load(hash);
  } catch (const Error& e) {
    if (e.code() == ErrorCode::InvalidArgument) throw;  // a kiln bug (bad key), not a cache failure
    log_warning("engine cache: load of " + hash + " failed: " + e.what());
    return std::nullopt;
  } catch (const std::exception& e) {
    log_warning("engine cache: load of " + hash + " failed: " + e.what());
    return std::nullopt;
  }
  if (!bytes) return std::nullopt;
  try {
    return unpack_entry(*bytes, hash);
  } catch (const Error& e) {
    if (e.code() != ErrorCode::Corrupt) throw;
    log_warning("engine cache: " + e.message() + "; treating as a miss");
  }
  try {
    cache.discard(hash);
  } catch (const std::exception& e) {
    log_warning("engine cache: discard of " + hash + " failed: " + e.what());
  }
  return std::nullopt;
}

void save_entry(EngineCache& cache, const std::string& hash, const CacheEntry& entry) {
  const std::vector<uint8_t> bytes = pack_entry(entry, hash);
  try {
    cache.save(hash, bytes);
  } catch (const Error& e) {
    if (e.code() == ErrorCode::InvalidArgument) throw;
    log_warning("engine cache: save of " + hash + " failed: " + e.what());
  } catch (const std::exception& e) {
    log_warning("engine cache: save of " + hash + " failed: " + e.what());
  }
}

}  // namespace kiln::cache
