// The headend's PS and download server behind the AP (docs/spec.md, "Client image download"): the
// current image from the headend store, personalized for one SM with that SM's CA key on this
// network, encrypted under the image key the AP established, and signed with the headend's key.
#pragma once

#include "headend/headend_store.h"
#include "headend/image_source.h"

namespace dcas::headend {

class Personalizer final : public ImageSource {
 public:
  Personalizer(HeadendStore& store, crypto::RsaPrivateKey signer, crypto::RandomSource& rng)
      : store_(store), signer_(std::move(signer)), rng_(rng) {}

  Result<std::uint64_t> current_version() override;
  // Errors: image_unavailable (the version is no longer the current one), store errors.
  Result<Bytes> personalize(const SmId& sm, std::uint64_t version, ByteView image_key) override;
  Result<std::vector<std::optional<SmId>>> take_download_orders() override { return store_.take_download_orders(); }

 private:
  HeadendStore& store_;
  crypto::RsaPrivateKey signer_;
  crypto::RandomSource& rng_;
};

}  // namespace dcas::headend
