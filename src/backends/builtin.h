// The backends compiled into this kiln. The only file that names them: the
// registry (backend.h) asks it once, so backend.h never includes a backend.
#pragma once

#include <functional>
#include <string>

#include "backends/backend.h"

namespace kiln::backend {

using AddBackendFn = std::function<void(const std::string& name, BackendFactory factory)>;
void register_builtin_backends(const AddBackendFn& add);

}  // namespace kiln::backend
