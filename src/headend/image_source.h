// What the AP service asks of the headend behind it: the PS and the download server
// (docs/spec.md, "Client image download"). The headend implements it; the service only calls it.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "common/bytes.h"
#include "common/error.h"
#include "common/ids.h"

namespace dcas::headend {

class ImageSource {
 public:
  virtual ~ImageSource() = default;
  // The version announced and delivered; 0: none.
  virtual Result<std::uint64_t> current_version() = 0;
  // The ClientImage message of `version` personalized for `sm`, encrypted under `image_key`.
  virtual Result<Bytes> personalize(const SmId& sm, std::uint64_t version, ByteView image_key) = 0;
  // The operator's DCASDownload orders since the last call: an SM, or nullopt for every SM.
  virtual Result<std::vector<std::optional<SmId>>> take_download_orders() = 0;
};

}  // namespace dcas::headend
