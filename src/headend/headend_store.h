// The headend's database (docs/spec.md, "Headend"): the network it serves, the CA client images the
// PS has published, each SM's CA key on this network, the CAS's products and subscriptions, and the
// operator's pending download orders. SQLite (WAL, synchronous=FULL) in HEADEND_DIR/headend.sqlite;
// CA and product keys are sealed with AES-256-GCM under the headend's operator key
// (HEADEND_DIR/store.key), each bound to its row by the associated data.
#pragma once

#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "common/ids.h"
#include "crypto/random.h"
#include "headend/product_key.h"
#include "protocol/role.h"

struct sqlite3;

namespace dcas::headend {

struct PublishedImage {
  std::uint64_t version = 0;
  Bytes code;
};

struct Product {
  std::uint64_t id = 0;
  std::string name;
  std::uint64_t key_epoch = 1;  // the product key in use (docs/spec.md §15.4)
};

struct Subscription {
  SmId sm;
  std::uint64_t product_id = 0;
  std::uint64_t expires_at = 0;  // seconds since the Unix epoch
};

class HeadendStore {
 public:
  // Errors: store_error, store_schema, bad_length (key).
  static Result<std::unique_ptr<HeadendStore>> open(const std::filesystem::path& path, ByteView operator_key);
  // HEADEND_DIR/headend.sqlite with the key from HEADEND_DIR/store.key. Errors: as open, io_error.
  static Result<std::unique_ptr<HeadendStore>> open_directory(const std::filesystem::path& dir);
  ~HeadendStore();

  Result<void> set_network_id(ByteView network_id);  // 8 bytes
  Result<Bytes> network_id();                        // store_error if never set

  // Versions only go up. Errors: invalid_argument (not above the current version, or version 0).
  Result<void> publish_image(std::uint64_t version, ByteView code, protocol::TimePoint now);
  Result<std::optional<PublishedImage>> current_image();

  // The SM's CA key on this network, drawn on first use. Errors: store_error, store_key_invalid.
  Result<SecureBytes> ca_key(const SmId& sm, crypto::RandomSource& rng);
  Result<std::optional<SecureBytes>> find_ca_key(const SmId& sm);

  // Errors: invalid_argument (the ID exists).
  Result<void> add_product(std::uint64_t id, std::string_view name, crypto::RandomSource& rng);
  Result<std::vector<Product>> products();
  // The key in use. Errors: not_found (no such product), store_key_invalid.
  Result<SecureBytes> product_key(std::uint64_t id);
  Result<ProductKeys> product_keys(std::uint64_t id);
  // Rekeying (docs/spec.md §15.4): a key of a new epoch, which the broadcast sends ahead to the
  // subscribers of that time and then switches its ECMs to. A pending key that no broadcast has
  // sent yet is returned again (it reaches no one removed meanwhile); once one has, the next
  // rekeying makes a key of a higher epoch. Errors: not_found, store errors.
  Result<ProductKey> rekey_product(std::uint64_t id, crypto::RandomSource& rng, protocol::TimePoint now);
  // A broadcast is about to send the pending key of `epoch`: it is on air from now on.
  Result<void> mark_aired(std::uint64_t id, std::uint64_t epoch, protocol::TimePoint now);
  // The broadcast switched the product's ECMs to `epoch`: it is the key in use from now on.
  Result<void> complete_rekey(std::uint64_t id, std::uint64_t epoch);

  // Replaces the SM's subscription to the product. Errors: invalid_argument (no such product).
  Result<void> subscribe(const SmId& sm, std::uint64_t product_id, std::uint64_t expires_at);
  Result<bool> unsubscribe(const SmId& sm, std::uint64_t product_id);
  Result<std::vector<Subscription>> subscriptions();

  // DCASDownload orders: for one SM, or (nullopt) every SM on the network. Taken once.
  Result<void> order_download(std::optional<SmId> target, protocol::TimePoint now);
  Result<std::vector<std::optional<SmId>>> take_download_orders();

 private:
  HeadendStore(sqlite3* db, ByteView key);
  Result<SecureBytes> open_sealed(ByteView sealed, std::string_view aad);
  // The caller holds mutex_.
  Result<ProductKey> key_of_epoch(std::uint64_t id, std::uint64_t epoch);
  Result<std::optional<std::pair<std::uint64_t, bool>>> pending_epoch(std::uint64_t id, std::uint64_t current);
  sqlite3* db_;
  SecureBytes key_;
  std::mutex mutex_;
};

// HEADEND_DIR/store.key and the database, with the network ID and image version 1 of `code`, and
// product 1 "basic". Errors: io_error (the directory holds a headend already), store errors.
Result<void> init_headend_directory(const std::filesystem::path& dir, ByteView network_id, ByteView code,
                                    crypto::RandomSource& rng, protocol::TimePoint now);

// The stand-in CA client application of a published version: its name, then deterministic filler
// to `size` bytes. (The CA client logic itself is the SM's code; the image's content is opaque to
// every check.)
Bytes stand_in_client_code(std::uint64_t version, std::size_t size);

}  // namespace dcas::headend
