#include "core/sha256.h"

#include <openssl/evp.h>

#include "kiln/error.h"

namespace kiln {

namespace {

EVP_MD_CTX* ctx_of(void* p) { return static_cast<EVP_MD_CTX*>(p); }

// A printable summary of a field value for the debug transcript.
std::string summarize(const void* data, size_t size) {
  constexpr size_t k_max_shown = 200;
  const std::string_view v(static_cast<const char*>(data), size);
  bool printable = v.size() <= k_max_shown;
  for (size_t i = 0; printable && i < v.size(); ++i)
    printable = static_cast<unsigned char>(v[i]) >= 0x20 || v[i] == '\t';
  if (printable) return std::string(v);
  return "<" + std::to_string(size) + " bytes, sha256 " + to_hex(sha256(data, size)).substr(0, 16) + "...>";
}

}  // namespace

Digest sha256(const void* data, size_t size) {
  Sha256 h;
  h.update(data, size);
  return h.finish();
}

std::string to_hex(std::span<const uint8_t> bytes) {
  static const char k_hex[] = "0123456789abcdef";
  std::string s;
  s.reserve(bytes.size() * 2);
  for (uint8_t b : bytes) {
    s += k_hex[b >> 4];
    s += k_hex[b & 15];
  }
  return s;
}

Sha256::Sha256() : m_ctx(EVP_MD_CTX_new()) {
  if (!m_ctx || EVP_DigestInit_ex(ctx_of(m_ctx), EVP_sha256(), nullptr) != 1) {
    EVP_MD_CTX_free(ctx_of(m_ctx));
    throw Error(ErrorCode::Internal, "OpenSSL SHA-256 init failed");
  }
}

Sha256::~Sha256() { EVP_MD_CTX_free(ctx_of(m_ctx)); }

Sha256& Sha256::update(const void* data, size_t size) {
  if (m_finished) throw Error(ErrorCode::Internal, "Sha256::update after finish()");
  if (size && EVP_DigestUpdate(ctx_of(m_ctx), data, size) != 1)
    throw Error(ErrorCode::Internal, "OpenSSL SHA-256 update failed");
  return *this;
}

Sha256& Sha256::update_u64(uint64_t v) {
  uint8_t le[8];
  for (int i = 0; i < 8; ++i) le[i] = static_cast<uint8_t>(v >> (8 * i));
  return update(le, sizeof le);
}

Sha256& Sha256::field(std::string_view name, const void* data, size_t size) {
  update("\0", 1);
  update(name);
  update("\0", 1);
  update(std::to_string(size));
  update("\0", 1);
  update(data, size);
  if (m_debug) *m_debug += std::string(name) + ": " + summarize(data, size) + "\n";
  return *this;
}

Sha256& Sha256::field(std::string_view name, uint64_t value) { return field(name, std::to_string(value)); }

Digest Sha256::finish() {
  if (m_finished) throw Error(ErrorCode::Internal, "Sha256::finish called twice");
  m_finished = true;
  Digest d{};
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx_of(m_ctx), d.data(), &len) != 1 || len != d.size())
    throw Error(ErrorCode::Internal, "OpenSSL SHA-256 final failed");
  return d;
}

std::string Sha256::finish_hex() { return to_hex(finish()); }

}  // namespace kiln
