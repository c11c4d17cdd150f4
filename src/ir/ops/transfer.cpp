// Schemas of the copies between memories the partitioner inserts
// (backends/transfer.h): one input, one output of the same dtype and shape.
#include "ir/op_schema.h"
#include "ir/ops/families.h"

namespace kiln::ir {

void register_transfer_schemas(SchemaRegistry& r) {
  for (const char* op : {"ToDevice", "ToHost"}) {
    OpSchema s;
    s.domain = "com.kiln";
    s.op_type = op;
    s.infer = [](InferContext& ctx) { ctx.set_output(0, ctx.input_dtype(0), ctx.input_shape(0)); };
    r.add(std::move(s));
  }
}

}  // namespace kiln::ir
