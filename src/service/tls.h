// TLS 1.3 for the AP-TA link (docs/spec.md §13.2): both ends present their TA-issued certificate
// and prove its key in the handshake (the AP its device key, the TA its root); each accepts only a
// peer whose certificate the TA root issued, or the root itself. OpenSSL's own TLS does all of it;
// DCAS adds only the role check on the AP's certificate after the handshake (the role is a DCAS
// extension OpenSSL does not know, so the chain is checked for "any" purpose).
#pragma once

#include <memory>

#include "crypto/rsa.h"
#include "net/channel.h"
#include "pki/certificate.h"

namespace dcas::service {

enum class TlsSide { server, client };
// Errors: crypto_failure (OpenSSL refused the key, the certificate or the settings).
Result<std::shared_ptr<asio::ssl::context>> tls_context(TlsSide side, const crypto::RsaPrivateKey& key,
                                                        const pki::Certificate& own, const pki::Certificate& ta_root);

}  // namespace dcas::service
