// Output-shape rules of the tensor (shape/layout/indexing) ops, written once over
// symbolic shapes so that shape inference (symbolic dims, constant inputs) and the
// CPU kernels (concrete shapes) agree by construction. A kernel calls a rule with
// to_sym(input.shape()) and gets a fully known shape back.
//
// Unknown output dims come back as anonymous Dim() (no symbol); the schema turns
// them into fresh symbols. Rules never read tensor data: callers pass the values
// of shape-like inputs (Reshape's shape, Slice's starts, ...) as int vectors.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "kiln/error.h"

namespace kiln::ir::rules {

// Raises a rule's error naming the node: schemas use InvalidModel, kernels
// InvalidArgument (the same graph may fail only for some runtime shapes).
class Fail {
 public:
  Fail(const Node& node, ErrorCode code) : m_node(node), m_code(code) {}
  [[noreturn]] void operator()(const std::string& what) const;
  const Node& node() const { return m_node; }

 private:
  const Node& m_node;
  ErrorCode m_code;
};

// Values at or beyond this magnitude in Slice starts/ends mean "to the end" (models
// write INT_MAX or INT64_MAX), which lets a slice of a symbolic dim keep the dim.
constexpr int64_t k_slice_inf = 2147483647;

int64_t norm_axis(const Fail& fail, int64_t axis, int64_t rank);
// Normalized axes; fails on out-of-range or repeated axes.
std::vector<int64_t> norm_axes(const Fail& fail, const std::vector<int64_t>& axes, int64_t rank);
int64_t checked_mul(const Fail& fail, int64_t a, int64_t b);
// Product of dims [begin, end): known when all are known or one is a known 0.
Dim dim_product(const Fail& fail, const SymShape& s, size_t begin, size_t end);
// Bidirectional broadcast of two dims (Expand); fails on a known mismatch.
Dim broadcast_dim(const Fail& fail, const Dim& a, const Dim& b);
SymShape broadcast(const Fail& fail, const SymShape& a, const SymShape& b);

SymShape flatten(const Fail& fail, const SymShape& in, int64_t axis);
SymShape reshape(const Fail& fail, const SymShape& in, const std::vector<int64_t>& target,
                 bool allowzero);
// axes == nullptr (or empty) squeezes every dim of size 1; nullopt when that depends on symbols.
std::optional<SymShape> squeeze(const Fail& fail, const SymShape& in, const std::vector<int64_t>* axes);
SymShape unsqueeze(const Fail& fail, const SymShape& in, const std::vector<int64_t>& axes);
// An empty perm means reversed dims.
std::vector<int64_t> transpose_perm(const Fail& fail, const std::vector<int64_t>& perm, int64_t rank);
SymShape tile(const Fail& fail, const SymShape& in, const std::vector<int64_t>& repeats);
SymShape concat(const Fail& fail, const std::vector<SymShape>& ins, int64_t axis);

struct SliceAxis {
  int64_t start = 0;  // first element read (valid when len is known and > 0)
  int64_t step = 1;
  Dim len;            // output size along the axis
};
// One entry per input dim (dims not sliced read everything with step 1).
std::vector<SliceAxis> slice(const Fail& fail, const SymShape& in, const std::vector<int64_t>& starts,
                             const std::vector<int64_t>& ends, const std::vector<int64_t>* axes,
                             const std::vector<int64_t>* steps);
SymShape slice_shape(const std::vector<SliceAxis>& axes);

// Shape op (opset 15): the [begin, end) range of dims it returns.
std::pair<int64_t, int64_t> shape_range(int64_t rank, int64_t start, std::optional<int64_t> end);

struct Pads {
  std::vector<int64_t> begin, end;  // per input dim; negative crops
};
// pads holds begins then ends for `axes` (all dims when null).
Pads pads(const Fail& fail, int64_t rank, const std::vector<int64_t>& pads, const std::vector<int64_t>* axes);
SymShape pad(const Fail& fail, const SymShape& in, const Pads& p);

// Sizes of Split's outputs along its axis; entries are -1 when the dim is unknown.
// split: explicit sizes (or null); num_outputs: the opset-18 attribute (0 = absent).
std::vector<int64_t> split_sizes(const Fail& fail, const Dim& dim, const std::vector<int64_t>* split,
                                 int64_t num_outputs, size_t n_outputs, int64_t opset);

int64_t range_count(const Fail& fail, double start, double limit, double delta);
int64_t range_count_int(const Fail& fail, int64_t start, int64_t limit, int64_t delta);

SymShape gather(const Fail& fail, const SymShape& data, const SymShape& indices, int64_t axis);
std::optional<SymShape> gather_nd(const Fail& fail, const SymShape& data, const SymShape& indices,
                                  int64_t batch_dims);
SymShape onehot(const Fail& fail, const SymShape& indices, const Dim& depth, int64_t axis);
SymShape depth_to_space(const Fail& fail, const SymShape& in, int64_t blocksize);
SymShape space_to_depth(const Fail& fail, const SymShape& in, int64_t blocksize);

// Constant's value from whichever value* attribute the node has; sparse and string
// values are kiln::Error(Unsupported). The tensor may alias the attribute's data.
Tensor constant_value(const Fail& fail);
// ConstantOfShape's fill value: its one-element 'value' attribute, else float32 0.
Tensor fill_value(const Fail& fail);

}  // namespace kiln::ir::rules
