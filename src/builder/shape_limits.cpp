#include "builder/shape_limits.h"

#include <algorithm>
#include <cstdio>
#include <string>

#include "kiln/error.h"

namespace kiln::builder {

namespace {

std::string bytes_str(double v) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  int u = 0;
  while (v >= 1024 && u < 6) v /= 1024, ++u;
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f %s", v, units[u]);
  return buf;
}

}  // namespace

void check_input_shape_limits(const std::vector<TensorSpec>& inputs) {
  for (const TensorSpec& s : inputs) {
    const std::string where = "input '" + s.name + "'";
    const std::pair<const char*, const std::vector<int64_t>*> shapes[] = {
        {"shape", &s.shape}, {"profile min", &s.min}, {"profile opt", &s.opt}, {"profile max", &s.max}};
    for (const auto& [what, dims] : shapes)
      for (size_t d = 0; d < dims->size(); ++d)
        if ((*dims)[d] > k_max_input_dim)
          throw Error(ErrorCode::InvalidArgument,
                      where + ": dim " + std::to_string(d) + " of its " + what + " " + shape_str(*dims) + " is " +
                          std::to_string((*dims)[d]) + ", over kiln's limit of 2^31-1 (" +
                          std::to_string(k_max_input_dim) + ") per dimension");
    // The largest shape it can take: the profile max, else the static shape.
    const std::vector<int64_t>& largest = s.max.empty() ? s.shape : s.max;
    // In double: a product of up to 2^31-sized dims overflows any integer, and
    // a relative error of 1e-16 does not matter next to the limit.
    double bytes = static_cast<double>(std::max<size_t>(dtype_size(s.dtype), 1));
    bool known = true;
    for (int64_t d : largest) {
      if (d < 0) known = false;
      bytes *= static_cast<double>(d < 0 ? 0 : d);
    }
    if (known && bytes > static_cast<double>(k_max_input_bytes))
      throw Error(ErrorCode::InvalidArgument,
                  where + ": " + shape_str(largest) + " of " + std::string(dtype_name(s.dtype)) + " is " +
                      bytes_str(bytes) + ", over kiln's limit of 64 GiB (2^36 bytes) per input tensor");
  }
}

}  // namespace kiln::builder
