#include "headend/personalizer.h"

#include <fmt/format.h>

#include "protocol/client_image.h"

namespace dcas::headend {

Result<std::uint64_t> Personalizer::current_version() {
  DCAS_TRY_ASSIGN(image, store_.current_image());
  return image ? image->version : 0;
}

Result<Bytes> Personalizer::personalize(const SmId& sm, std::uint64_t version, ByteView image_key) {
  DCAS_TRY_ASSIGN(image, store_.current_image());
  if (!image || image->version != version)
    return fail(Errc::image_unavailable, fmt::format("image version {} is no longer the current one", version));
  DCAS_TRY_ASSIGN(network, store_.network_id());
  DCAS_TRY_ASSIGN(ca_key, store_.ca_key(sm, rng_));
  return protocol::seal_client_image({network, version, sm, std::move(ca_key), std::move(image->code)}, image_key,
                                     signer_, rng_);
}

}  // namespace dcas::headend
