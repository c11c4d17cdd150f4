// NumPy .npy files in and out (format versions 1.0-3.0, C order, little-endian),
// the CLI's tensor exchange format.
#pragma once

#include <string>

#include "kiln/tensor.h"

namespace kiln {

Tensor read_npy(const std::string& path);
void write_npy(const std::string& path, const Tensor& tensor);

}  // namespace kiln
