#include "service/tls.h"

#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

namespace dcas::service {

Result<std::shared_ptr<asio::ssl::context>> tls_context(TlsSide side, const crypto::RsaPrivateKey& key,
                                                        const pki::Certificate& own, const pki::Certificate& ta_root) {
  auto ctx = std::make_shared<asio::ssl::context>(side == TlsSide::server ? asio::ssl::context::tls_server
                                                                          : asio::ssl::context::tls_client);
  SSL_CTX* native = ctx->native_handle();
  const auto refused = [](const char* what) { return fail(Errc::crypto_failure, what); };
  if (SSL_CTX_set_min_proto_version(native, TLS1_3_VERSION) != 1) return refused("TLS 1.3 unavailable");
  if (SSL_CTX_use_certificate(native, own.x509()) != 1) return refused("TLS: own certificate refused");
  if (SSL_CTX_use_PrivateKey(native, key.evp()) != 1 || SSL_CTX_check_private_key(native) != 1)
    return refused("TLS: own key refused or not the certificate's");
  X509_STORE* store = SSL_CTX_get_cert_store(native);
  if (!store || X509_STORE_add_cert(store, ta_root.x509()) != 1) return refused("TLS: TA root refused");
  // The DCAS role extended key usage is not TLS's clientAuth/serverAuth: any purpose, and the
  // caller checks the role (pki::verify_device) on the peer certificate after the handshake.
  X509_VERIFY_PARAM* param = SSL_CTX_get0_param(native);
  if (!param || X509_VERIFY_PARAM_set_purpose(param, X509_PURPOSE_ANY) != 1) return refused("TLS: verify purpose");
  SSL_CTX_set_verify(native, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  // Depth 0: no intermediate at all; the peer's certificate is issued by the root (or is it).
  SSL_CTX_set_verify_depth(native, 0);
  // No resumption: every link proves its certificate's key afresh (and the server sends nothing
  // after the handshake that a peer would have to read).
  if (SSL_CTX_set_num_tickets(native, 0) != 1) return refused("TLS: session tickets");
  SSL_CTX_set_session_cache_mode(native, SSL_SESS_CACHE_OFF);
  return ctx;
}

}  // namespace dcas::service
