#include "core/dispatch.h"

#include <type_traits>
#include <vector>

namespace kiln {

int64_t read_int(const Tensor& t, int64_t i) {
  return dispatch_all(t.dtype(), "read_int", [&](auto tag) -> int64_t {
    using T = decltype(tag);
    if constexpr (std::is_integral_v<T>) return static_cast<int64_t>(t.data<T>()[i]);
    else return static_cast<int64_t>(static_cast<double>(t.data<T>()[i]));
  });
}

double read_double(const Tensor& t, int64_t i) {
  return dispatch_all(t.dtype(), "read_double", [&](auto tag) -> double {
    using T = decltype(tag);
    return static_cast<double>(t.data<T>()[i]);
  });
}

std::vector<int64_t> read_ints(const Tensor& t) {
  std::vector<int64_t> out(static_cast<size_t>(t.numel()));
  if (t.dtype() == DataType::Int64) {
    for (size_t i = 0; i < out.size(); ++i) out[i] = t.data<int64_t>()[i];
    return out;
  }
  for (size_t i = 0; i < out.size(); ++i) out[i] = read_int(t, static_cast<int64_t>(i));
  return out;
}

}  // namespace kiln
