// Binary serialization of an ir::Graph (the engine payload's graph section) and
// the canonical text form that the engine-cache key hashes.
//
//   graph     := name:str opsets values nodes inputs outputs
//   opsets    := n:u64 (domain:str version:i64)*n
//   values    := n:u64 value*n
//   value     := name:str dtype:i32 shape_flag:u8 [rank:u64 dim*rank]
//                const_flag:u8 [tensor]        const_flag 2 = stripped weight
//   dim       := value:i64 symbol:str
//   tensor    := dtype:i32 rank:u64 dim:i64*rank nbytes:u64 bytes
//   nodes     := n:u64 (name:str op:str domain:str ins outs attrs)*n
//   ins, outs := n:u64 id:i32*n                 (-1 = omitted)
//   attrs     := n:u64 (key:str kind:i32 payload)*n
//   inputs, outputs := n:u64 id:i32*n
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/bytes.h"
#include "ir/graph.h"

namespace kiln::ir {

struct SerializeOptions {
  // Values whose constant bytes are left out (weightless engines); they keep
  // dtype and shape, and read_graph reports them as stripped.
  const std::vector<ValueId>* strip = nullptr;
};

void write_graph(ByteWriter& w, const Graph& g, const SerializeOptions& options = {});
// `stripped` (may be null) receives the values written without their data.
Graph read_graph(ByteReader& r, std::vector<ValueId>* stripped = nullptr);

void write_tensor(ByteWriter& w, const Tensor& t);
Tensor read_tensor(ByteReader& r);

// Names stripped, values numbered by first use; constants summarized as dtype
// and shape (their bytes go into a separate weights digest). Two graphs that
// differ only in tensor or node names give the same string.
std::string canonical_text(const Graph& g);
// Constant tensors in canonical order, for the weights digest.
std::vector<const Tensor*> canonical_constants(const Graph& g);

}  // namespace kiln::ir
