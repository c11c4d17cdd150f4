// The op families whose schemas kiln registers. Each family lives in its own
// file under src/ir/ops/ and its CPU kernels in src/backends/cpu/kernels/.
#pragma once

namespace kiln::ir {

class SchemaRegistry;

void register_elementwise_schemas(SchemaRegistry& r);  // elementwise.cpp
void register_nn_schemas(SchemaRegistry& r);           // nn.cpp
void register_tensor_schemas(SchemaRegistry& r);       // tensor.cpp (shape/layout ops)
void register_reduce_schemas(SchemaRegistry& r);       // reduce.cpp (Reduce*, ArgMax/Min, TopK)
void register_quant_schemas(SchemaRegistry& r);        // quant.cpp (Quantize/DequantizeLinear, ...)
void register_detection_schemas(SchemaRegistry& r);    // detection.cpp (NonMaxSuppression, RoiAlign, ...)
void register_control_flow_schemas(SchemaRegistry& r);  // control_flow.cpp (If)
void register_fused_schemas(SchemaRegistry& r);        // fused.cpp (com.kiln ops the fusion passes make)
void register_transfer_schemas(SchemaRegistry& r);     // transfer.cpp (com.kiln ToDevice/ToHost)

inline void register_all_schemas(SchemaRegistry& r) {
  register_elementwise_schemas(r);
  register_nn_schemas(r);
  register_tensor_schemas(r);
  register_reduce_schemas(r);
  register_quant_schemas(r);
  register_detection_schemas(r);
  register_control_flow_schemas(r);
  register_fused_schemas(r);
  register_transfer_schemas(r);
}

}  // namespace kiln::ir
