// The recognition half of PaddleOCR's TextSystem: each detected box cut out
// of the image and straightened (get_rotate_crop_image), the angle
// classifier turning upside-down crops (cls_thresh), the recognizer over
// crops batched by aspect ratio, and CTC greedy decoding over the package's
// character list (blank first). Lines under drop_score are left out.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "kiln/models.h"
#include "models/db_post.h"
#include "models/package.h"

namespace kiln::models::detail {

// Runs one network of the package (by role) on its input tensor.
using RunNetwork = std::function<Tensor(const std::string& role, Tensor input)>;

// CTC greedy decoding of probs [T, C]: the best class per step, repeats
// merged, blanks dropped; the score is the mean of the kept steps'
// probabilities (0 when nothing was read).
std::pair<std::string, float> ctc_decode(const float* probs, int steps, int classes,
                                         const std::vector<std::string>& characters);

// The crop of `box` from `image`, straightened; turned 90 degrees counter-
// clockwise when much taller than wide (vertical text).
Image crop_text(const Image& image, const std::array<Point, 4>& box);

// Lines of every image (images[i] with boxes[i]): crops classified and
// recognized in batches of up to max_batch across images.
std::vector<std::vector<TextLine>> read_text(const std::vector<Image>& images,
                                             const std::vector<std::vector<TextBox>>& boxes, const PackageSpec& spec,
                                             int cls_batch, int rec_batch, float min_score, const RunNetwork& run);

}  // namespace kiln::models::detail
