// The engine file format. All integers little-endian; str := len:u32 bytes.
//
//   engine   := header payload
//   header   := magic:"KILNENG\0"  format_version:u32
//               producer:str  backend:str  fingerprint:str
//               payload_bytes:u64  sha256:byte[32]     over the header before it and the payload
//   payload  := flags:u32                 bit 0 plan_valid, 1 weightless, 2 needs_output_allocator,
//                                         3 weight_streaming
//               optimization_level:i32  cpu_threads:i32
//               config:strs               BuildConfig::invariant_fields()
//               inputs:specs  outputs:specs
//               plan                      only when plan_valid
//               graph                     see src/ir/serialize.h
//   strs     := n:u64 str*n
//   specs    := n:u64 (name:str dtype:i32 shape:dims min:dims opt:dims max:dims)*n
//   dims     := n:u64 i64*n
//   plan     := arena_bytes:u64 host_arena_bytes:u64 naive_bytes:u64
//               n:u64 (value:i32 arena:u8 offset:u64 bytes:u64)*n     arena 0 device, 1 host
//
// A reader checks magic, then the version (another version is Incompatible, not
// Corrupt: rebuild), then the payload size and the SHA-256 before parsing
// anything in the payload, so damaged bytes never reach the graph reader. The
// plan is checked against the graph (engine::check_plan): an engine from a
// shared cache cannot make two live values overlap, even with a valid checksum.
// Version 2: per-node devices (kiln.device attributes), planned graph I/O and
// two arenas.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/engine_data.h"

namespace kiln::engine {

constexpr char k_magic[8] = {'K', 'I', 'L', 'N', 'E', 'N', 'G', '\0'};
constexpr uint32_t k_format_version = 2;

std::vector<uint8_t> write_engine(const detail::EngineData& engine);
// `verify_checksum` = false skips only the SHA-256, for bytes a caller has just
// verified itself (an engine-cache entry's checksum covers the engine); every
// structural bounds check still runs.
detail::EngineData read_engine(const uint8_t* data, size_t size, const std::string& label,
                               bool verify_checksum = true);

}  // namespace kiln::engine
