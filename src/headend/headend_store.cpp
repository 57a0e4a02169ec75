#include "headend/headend_store.h"

#include <fmt/format.h>
#include <sqlite3.h>

#include "crypto/aead.h"
#include "protocol/cas.h"
#include "protocol/client_image.h"
#include "protocol/envelope.h"
#include "store/operator_key.h"
#include "store/sqlite_util.h"

namespace dcas::headend {

namespace {

using namespace store::sqlite;

constexpr const char* const schema_steps[] = {
    // 1
    "CREATE TABLE settings (name TEXT PRIMARY KEY, value BLOB NOT NULL);"
    "CREATE TABLE images (version INTEGER PRIMARY KEY CHECK (version > 0), code BLOB NOT NULL,"
    " published_ms INTEGER NOT NULL);"
    "CREATE TABLE ca_keys (sm_id BLOB PRIMARY KEY CHECK (length(sm_id) = 8), key_sealed BLOB NOT NULL);"
    "CREATE TABLE products (id INTEGER PRIMARY KEY, name TEXT NOT NULL, key_sealed BLOB NOT NULL);"
    "CREATE TABLE subscriptions (sm_id BLOB NOT NULL CHECK (length(sm_id) = 8),"
    " product_id INTEGER NOT NULL REFERENCES products(id), expires_at INTEGER NOT NULL,"
    " PRIMARY KEY (sm_id, product_id));"
    "CREATE TABLE download_orders (seq INTEGER PRIMARY KEY AUTOINCREMENT, sm_id BLOB, created_ms INTEGER NOT NULL);",
    // 2: product key epochs (docs/spec.md §15.4): the key in use and the one sent ahead of a switch
    "CREATE TABLE product_keys (product_id INTEGER NOT NULL REFERENCES products(id), epoch INTEGER NOT NULL"
    " CHECK (epoch > 0), key_sealed BLOB NOT NULL, created_ms INTEGER NOT NULL, aired_ms INTEGER,"
    " PRIMARY KEY (product_id, epoch));"
    "INSERT INTO product_keys (product_id, epoch, key_sealed, created_ms) SELECT id, 1, key_sealed, 0 FROM products;"
    "ALTER TABLE products ADD COLUMN current_epoch INTEGER NOT NULL DEFAULT 1;"
    "CREATE TRIGGER product_epoch_goes_up BEFORE UPDATE OF current_epoch ON products"
    " WHEN NEW.current_epoch <= OLD.current_epoch BEGIN SELECT RAISE(ABORT, 'a product key epoch only goes up'); END;",
};

std::string ca_aad(const SmId& sm) { return "ca-key:" + sm.hex(); }
// Epoch 1 keeps the associated data it had before epochs existed (schema 1).
std::string product_aad(std::uint64_t id, std::uint64_t epoch = 1) {
  return epoch == 1 ? fmt::format("product-key:{}", id) : fmt::format("product-key:{}:{}", id, epoch);
}

Result<void> step_done(sqlite3* db, sqlite3_stmt* s, std::string_view what) {
  if (sqlite3_step(s) != SQLITE_DONE) return std::unexpected(db_error(db, what));
  return {};
}

}  // namespace

HeadendStore::HeadendStore(sqlite3* db, ByteView key) : db_(db), key_(key.begin(), key.end()) {}
HeadendStore::~HeadendStore() { sqlite3_close(db_); }

Result<std::unique_ptr<HeadendStore>> HeadendStore::open(const std::filesystem::path& path, ByteView operator_key) {
  if (operator_key.size() != crypto::aead_key_size) return fail(Errc::bad_length, "the operator key must be 32 bytes");
  DCAS_TRY_ASSIGN(db, open_database(path));
  DCAS_TRY(exec(db.get(), "PRAGMA foreign_keys = ON"));
  DCAS_TRY(migrate(db.get(), schema_steps));
  return std::unique_ptr<HeadendStore>(new HeadendStore(db.release(), operator_key));
}

Result<std::unique_ptr<HeadendStore>> HeadendStore::open_directory(const std::filesystem::path& dir) {
  DCAS_TRY_ASSIGN(key, store::load_operator_key(dir, store::KeySource::file_only));
  return open(dir / "headend.sqlite", view(key));
}

Result<SecureBytes> HeadendStore::open_sealed(ByteView sealed, std::string_view aad) {
  auto opened = crypto::aead_open(view(key_), view(aad), sealed);
  if (!opened) return fail(Errc::store_key_invalid, "the operator key does not open a sealed key");
  return std::move(*opened);
}

Result<void> HeadendStore::set_network_id(ByteView network_id) {
  if (network_id.size() != 8) return fail(Errc::bad_length, "network ID must be 8 bytes");
  std::lock_guard lock(mutex_);
  DCAS_TRY_ASSIGN(s, prepare(db_, "INSERT OR REPLACE INTO settings (name, value) VALUES ('network_id', ?)"));
  bind_blob(s.get(), 1, network_id);
  return step_done(db_, s.get(), "set network ID");
}

Result<Bytes> HeadendStore::network_id() {
  std::lock_guard lock(mutex_);
  DCAS_TRY_ASSIGN(s, prepare(db_, "SELECT value FROM settings WHERE name = 'network_id'"));
  if (sqlite3_step(s.get()) != SQLITE_ROW) return fail(Errc::store_error, "the headend has no network ID");
  return column_blob(s.get(), 0);
}

Result<void> HeadendStore::publish_image(std::uint64_t version, ByteView code, protocol::TimePoint now) {
  if (version == 0) return fail(Errc::invalid_argument, "image versions start at 1");
  if (code.size() > protocol::max_image_code_size) return fail(Errc::invalid_argument, "image code too large");
  std::lock_guard lock(mutex_);
  DCAS_TRY(exec(db_, "BEGIN IMMEDIATE"));
  auto result = [&]() -> Result<void> {
    DCAS_TRY_ASSIGN(q, prepare(db_, "SELECT coalesce(max(version), 0) FROM images"));
    if (sqlite3_step(q.get()) != SQLITE_ROW) return std::unexpected(db_error(db_, "read images"));
    const auto current = static_cast<std::uint64_t>(sqlite3_column_int64(q.get(), 0));
    if (version <= current)
      return fail(Errc::image_downgrade, fmt::format("version {} is not above the current {}", version, current));
    DCAS_TRY_ASSIGN(s, prepare(db_, "INSERT INTO images (version, code, published_ms) VALUES (?, ?, ?)"));
    sqlite3_bind_int64(s.get(), 1, static_cast<sqlite3_int64>(version));
    sqlite3_bind_blob(s.get(), 2, code.data(), static_cast<int>(code.size()), SQLITE_TRANSIENT);
    sqlite3_bind_int64(s.get(), 3, static_cast<sqlite3_int64>(protocol::to_unix_ms(now)));
    return step_done(db_, s.get(), "publish image");
  }();
  if (!result) {
    (void)exec(db_, "ROLLBACK");
    return result;
  }
  return exec(db_, "COMMIT");
}

Result<std::optional<PublishedImage>> HeadendStore::current_image() {
  std::lock_guard lock(mutex_);
  DCAS_TRY_ASSIGN(s, prepare(db_, "SELECT version, code FROM images ORDER BY version DESC LIMIT 1"));
  const int rc = sqlite3_step(s.get());
  if (rc == SQLITE_DONE) return std::optional<PublishedImage>{};
  if (rc != SQLITE_ROW) return std::unexpected(db_error(db_, "read image"));
  return std::optional<PublishedImage>(
      PublishedImage{static_cast<std::uint64_t>(sqlite3_column_int64(s.get(), 0)), column_blob(s.get(), 1)});
}

Result<std::optional<SecureBytes>> HeadendStore::find_ca_key(const SmId& sm) {
  Bytes sealed;
  {
    std::lock_guard lock(mutex_);
    DCAS_TRY_ASSIGN(s, prepare(db_, "SELECT key_sealed FROM ca_keys WHERE sm_id = ?"));
    bind_blob(s.get(), 1, sm.view());
    const int rc = sqlite3_step(s.get());
    if (rc == SQLITE_DONE) return std::optional<SecureBytes>{};
    if (rc != SQLITE_ROW) return std::unexpected(db_error(db_, "read CA key"));
    sealed = column_blob(s.get(), 0);
  }
  DCAS_TRY_ASSIGN(key, open_sealed(sealed, ca_aad(sm)));
  return std::optional<SecureBytes>(std::move(key));
}

Result<SecureBytes> HeadendStore::ca_key(const SmId& sm, crypto::RandomSource& rng) {
  DCAS_TRY_ASSIGN(found, find_ca_key(sm));
  if (found) return std::move(*found);
  DCAS_TRY_ASSIGN(key, rng.bytes(protocol::cas_key_size));
  DCAS_TRY_ASSIGN(sealed, crypto::aead_seal(view(key_), view(ca_aad(sm)), view(key), rng));
  bool inserted = false;
  {
    std::lock_guard lock(mutex_);
    // Two personalizations of one SM racing: the first key stays, the second reads it back.
    DCAS_TRY_ASSIGN(s, prepare(db_, "INSERT OR IGNORE INTO ca_keys (sm_id, key_sealed) VALUES (?, ?)"));
    bind_blob(s.get(), 1, sm.view());
    bind_blob(s.get(), 2, sealed);
    DCAS_TRY(step_done(db_, s.get(), "store CA key"));
    inserted = sqlite3_changes(db_) == 1;
  }
  if (inserted) return std::move(key);
  DCAS_TRY_ASSIGN(again, find_ca_key(sm));
  if (!again) return fail(Errc::store_error, "CA key vanished");
  return std::move(*again);
}

Result<void> HeadendStore::add_product(std::uint64_t id, std::string_view name, crypto::RandomSource& rng) {
  DCAS_TRY_ASSIGN(key, rng.bytes(protocol::cas_key_size));
  DCAS_TRY_ASSIGN(sealed, crypto::aead_seal(view(key_), view(product_aad(id)), view(key), rng));
  std::lock_guard lock(mutex_);
  DCAS_TRY(exec(db_, "BEGIN IMMEDIATE"));
  auto added = [&]() -> Result<void> {
    DCAS_TRY_ASSIGN(s, prepare(db_, "INSERT OR IGNORE INTO products (id, name, key_sealed) VALUES (?, ?, ?)"));
    sqlite3_bind_int64(s.get(), 1, static_cast<sqlite3_int64>(id));
    bind_text(s.get(), 2, name);
    bind_blob(s.get(), 3, sealed);
    DCAS_TRY(step_done(db_, s.get(), "add product"));
    if (sqlite3_changes(db_) != 1) return fail(Errc::already_exists, fmt::format("product {} exists", id));
    DCAS_TRY_ASSIGN(k, prepare(db_,
                               "INSERT INTO product_keys (product_id, epoch, key_sealed, created_ms) "
                               "VALUES (?, 1, ?, 0)"));
    sqlite3_bind_int64(k.get(), 1, static_cast<sqlite3_int64>(id));
    bind_blob(k.get(), 2, sealed);
    return step_done(db_, k.get(), "add product key");
  }();
  (void)exec(db_, added ? "COMMIT" : "ROLLBACK");
  return added;
}

Result<std::vector<Product>> HeadendStore::products() {
  std::lock_guard lock(mutex_);
  DCAS_TRY_ASSIGN(s, prepare(db_, "SELECT id, name, current_epoch FROM products ORDER BY id"));
  std::vector<Product> out;
  int rc;
  while ((rc = sqlite3_step(s.get())) == SQLITE_ROW)
    out.push_back({static_cast<std::uint64_t>(sqlite3_column_int64(s.get(), 0)), column_text(s.get(), 1),
                   static_cast<std::uint64_t>(sqlite3_column_int64(s.get(), 2))});
  if (rc != SQLITE_DONE) return std::unexpected(db_error(db_, "list products"));
  return out;
}

Result<ProductKey> HeadendStore::key_of_epoch(std::uint64_t id, std::uint64_t epoch) {
  DCAS_TRY_ASSIGN(s, prepare(db_, "SELECT key_sealed FROM product_keys WHERE product_id = ? AND epoch = ?"));
  sqlite3_bind_int64(s.get(), 1, static_cast<sqlite3_int64>(id));
  sqlite3_bind_int64(s.get(), 2, static_cast<sqlite3_int64>(epoch));
  const int rc = sqlite3_step(s.get());
  if (rc == SQLITE_DONE) return fail(Errc::not_found, fmt::format("no key of epoch {} for product {}", epoch, id));
  if (rc != SQLITE_ROW) return std::unexpected(db_error(db_, "read product key"));
  DCAS_TRY_ASSIGN(key, open_sealed(column_blob(s.get(), 0), product_aad(id, epoch)));
  return ProductKey{epoch, std::move(key)};
}

Result<ProductKeys> HeadendStore::product_keys(std::uint64_t id) {
  std::lock_guard lock(mutex_);
  DCAS_TRY_ASSIGN(s, prepare(db_, "SELECT current_epoch FROM products WHERE id = ?"));
  sqlite3_bind_int64(s.get(), 1, static_cast<sqlite3_int64>(id));
  const int rc = sqlite3_step(s.get());
  if (rc == SQLITE_DONE) return fail(Errc::not_found, fmt::format("no product {}", id));
  if (rc != SQLITE_ROW) return std::unexpected(db_error(db_, "read product"));
  const auto epoch = static_cast<std::uint64_t>(sqlite3_column_int64(s.get(), 0));
  DCAS_TRY_ASSIGN(current, key_of_epoch(id, epoch));
  ProductKeys out{std::move(current), std::nullopt};
  DCAS_TRY_ASSIGN(pending, pending_epoch(id, epoch));
  if (pending) {
    DCAS_TRY_ASSIGN(next, key_of_epoch(id, pending->first));
    out.next = std::move(next);
  }
  return out;
}

// The highest epoch above `current`, if any, and whether a broadcast has sent it.
Result<std::optional<std::pair<std::uint64_t, bool>>> HeadendStore::pending_epoch(std::uint64_t id,
                                                                                  std::uint64_t current) {
  DCAS_TRY_ASSIGN(s, prepare(db_,
                             "SELECT epoch, aired_ms IS NOT NULL FROM product_keys WHERE product_id = ? AND "
                             "epoch > ? ORDER BY epoch DESC LIMIT 1"));
  sqlite3_bind_int64(s.get(), 1, static_cast<sqlite3_int64>(id));
  sqlite3_bind_int64(s.get(), 2, static_cast<sqlite3_int64>(current));
  const int rc = sqlite3_step(s.get());
  if (rc == SQLITE_DONE) return std::optional<std::pair<std::uint64_t, bool>>{};
  if (rc != SQLITE_ROW) return std::unexpected(db_error(db_, "read the pending product key"));
  return std::optional<std::pair<std::uint64_t, bool>>{
      {static_cast<std::uint64_t>(sqlite3_column_int64(s.get(), 0)), sqlite3_column_int(s.get(), 1) != 0}};
}

Result<SecureBytes> HeadendStore::product_key(std::uint64_t id) {
  DCAS_TRY_ASSIGN(keys, product_keys(id));
  return std::move(keys.current.key);
}

Result<ProductKey> HeadendStore::rekey_product(std::uint64_t id, crypto::RandomSource& rng, protocol::TimePoint now) {
  DCAS_TRY_ASSIGN(fresh, rng.bytes(protocol::cas_key_size));
  std::lock_guard lock(mutex_);
  DCAS_TRY(exec(db_, "BEGIN IMMEDIATE"));
  auto made = [&]() -> Result<ProductKey> {
    DCAS_TRY_ASSIGN(s, prepare(db_,
                               "SELECT current_epoch, (SELECT MAX(epoch) FROM product_keys WHERE product_id = "
                               "products.id) FROM products WHERE id = ?"));
    sqlite3_bind_int64(s.get(), 1, static_cast<sqlite3_int64>(id));
    const int rc = sqlite3_step(s.get());
    if (rc == SQLITE_DONE) return fail(Errc::not_found, fmt::format("no product {}", id));
    if (rc != SQLITE_ROW) return std::unexpected(db_error(db_, "read product"));
    const auto current = static_cast<std::uint64_t>(sqlite3_column_int64(s.get(), 0));
    const auto highest = static_cast<std::uint64_t>(sqlite3_column_int64(s.get(), 1));
    // A pending key no broadcast has sent reaches only the subscribers of the one that will: it
    // serves again. One that went on air (a broadcast too short to switch, or one still running)
    // may be held by whoever was subscribed then: the next key is a new epoch above it.
    DCAS_TRY_ASSIGN(pending, pending_epoch(id, current));
    if (pending && !pending->second) return key_of_epoch(id, pending->first);
    const std::uint64_t epoch = highest + 1;
    DCAS_TRY_ASSIGN(sealed, crypto::aead_seal(view(key_), view(product_aad(id, epoch)), view(fresh), rng));
    DCAS_TRY_ASSIGN(insert, prepare(db_,
                                    "INSERT INTO product_keys (product_id, epoch, key_sealed, created_ms) "
                                    "VALUES (?, ?, ?, ?)"));
    sqlite3_bind_int64(insert.get(), 1, static_cast<sqlite3_int64>(id));
    sqlite3_bind_int64(insert.get(), 2, static_cast<sqlite3_int64>(epoch));
    bind_blob(insert.get(), 3, sealed);
    sqlite3_bind_int64(insert.get(), 4, static_cast<sqlite3_int64>(protocol::to_unix_ms(now)));
    DCAS_TRY(step_done(db_, insert.get(), "store the next product key"));
    return ProductKey{epoch, SecureBytes(fresh.begin(), fresh.end())};
  }();
  (void)exec(db_, made ? "COMMIT" : "ROLLBACK");
  return made;
}

Result<void> HeadendStore::mark_aired(std::uint64_t id, std::uint64_t epoch, protocol::TimePoint now) {
  std::lock_guard lock(mutex_);
  DCAS_TRY_ASSIGN(s, prepare(db_,
                             "UPDATE product_keys SET aired_ms = ? WHERE product_id = ? AND epoch = ? AND "
                             "aired_ms IS NULL"));
  sqlite3_bind_int64(s.get(), 1, static_cast<sqlite3_int64>(protocol::to_unix_ms(now)));
  sqlite3_bind_int64(s.get(), 2, static_cast<sqlite3_int64>(id));
  sqlite3_bind_int64(s.get(), 3, static_cast<sqlite3_int64>(epoch));
  return step_done(db_, s.get(), "record the product key on air");
}

Result<void> HeadendStore::complete_rekey(std::uint64_t id, std::uint64_t epoch) {
  std::lock_guard lock(mutex_);
  DCAS_TRY_ASSIGN(s, prepare(db_, "UPDATE products SET current_epoch = ? WHERE id = ? AND current_epoch < ?"));
  sqlite3_bind_int64(s.get(), 1, static_cast<sqlite3_int64>(epoch));
  sqlite3_bind_int64(s.get(), 2, static_cast<sqlite3_int64>(id));
  sqlite3_bind_int64(s.get(), 3, static_cast<sqlite3_int64>(epoch));
  return step_done(db_, s.get(), "switch the product key");
}

Result<void> HeadendStore::subscribe(const SmId& sm, std::uint64_t product_id, std::uint64_t expires_at) {
  std::lock_guard lock(mutex_);
  DCAS_TRY_ASSIGN(
      s, prepare(db_, "INSERT OR REPLACE INTO subscriptions (sm_id, product_id, expires_at) VALUES (?, ?, ?)"));
  bind_blob(s.get(), 1, sm.view());
  sqlite3_bind_int64(s.get(), 2, static_cast<sqlite3_int64>(product_id));
  sqlite3_bind_int64(s.get(), 3, static_cast<sqlite3_int64>(expires_at));
  if (sqlite3_step(s.get()) != SQLITE_DONE) {
    if (sqlite3_extended_errcode(db_) == SQLITE_CONSTRAINT_FOREIGNKEY)
      return fail(Errc::not_found, fmt::format("no product {}", product_id));
    return std::unexpected(db_error(db_, "subscribe"));
  }
  return {};
}

Result<bool> HeadendStore::unsubscribe(const SmId& sm, std::uint64_t product_id) {
  std::lock_guard lock(mutex_);
  DCAS_TRY_ASSIGN(s, prepare(db_, "DELETE FROM subscriptions WHERE sm_id = ? AND product_id = ?"));
  bind_blob(s.get(), 1, sm.view());
  sqlite3_bind_int64(s.get(), 2, static_cast<sqlite3_int64>(product_id));
  DCAS_TRY(step_done(db_, s.get(), "unsubscribe"));
  return sqlite3_changes(db_) == 1;
}

Result<std::vector<Subscription>> HeadendStore::subscriptions() {
  std::lock_guard lock(mutex_);
  DCAS_TRY_ASSIGN(s,
                  prepare(db_, "SELECT sm_id, product_id, expires_at FROM subscriptions ORDER BY sm_id, product_id"));
  std::vector<Subscription> out;
  int rc;
  while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) {
    DCAS_TRY_ASSIGN(sm, SmId::from_bytes(column_blob(s.get(), 0)));
    out.push_back({sm, static_cast<std::uint64_t>(sqlite3_column_int64(s.get(), 1)),
                   static_cast<std::uint64_t>(sqlite3_column_int64(s.get(), 2))});
  }
  if (rc != SQLITE_DONE) return std::unexpected(db_error(db_, "list subscriptions"));
  return out;
}

Result<void> HeadendStore::order_download(std::optional<SmId> target, protocol::TimePoint now) {
  std::lock_guard lock(mutex_);
  DCAS_TRY_ASSIGN(s, prepare(db_, "INSERT INTO download_orders (sm_id, created_ms) VALUES (?, ?)"));
  bind_blob(s.get(), 1, target ? target->view() : ByteView{});
  sqlite3_bind_int64(s.get(), 2, static_cast<sqlite3_int64>(protocol::to_unix_ms(now)));
  return step_done(db_, s.get(), "order download");
}

Result<std::vector<std::optional<SmId>>> HeadendStore::take_download_orders() {
  std::lock_guard lock(mutex_);
  DCAS_TRY(exec(db_, "BEGIN IMMEDIATE"));
  auto result = [&]() -> Result<std::vector<std::optional<SmId>>> {
    DCAS_TRY_ASSIGN(s, prepare(db_, "SELECT sm_id FROM download_orders ORDER BY seq"));
    std::vector<std::optional<SmId>> out;
    int rc;
    while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) {
      const Bytes id = column_blob(s.get(), 0);
      if (id.empty()) {
        out.emplace_back(std::nullopt);
      } else {
        DCAS_TRY_ASSIGN(sm, SmId::from_bytes(id));
        out.emplace_back(sm);
      }
    }
    if (rc != SQLITE_DONE) return std::unexpected(db_error(db_, "read download orders"));
    DCAS_TRY(exec(db_, "DELETE FROM download_orders"));
    return out;
  }();
  if (!result) {
    (void)exec(db_, "ROLLBACK");
    return result;
  }
  DCAS_TRY(exec(db_, "COMMIT"));
  return result;
}

Bytes stand_in_client_code(std::uint64_t version, std::size_t size) {
  const std::string name = fmt::format("DCAS stand-in CA client application, version {}\n", version);
  Bytes code(name.begin(), name.end());
  // Filler from SHA-256 in counter mode: deterministic, so a published version can be recreated.
  for (std::uint32_t block = 0; code.size() < size; ++block) {
    const std::uint8_t counter[12] = {
        static_cast<std::uint8_t>(version >> 56), static_cast<std::uint8_t>(version >> 48),
        static_cast<std::uint8_t>(version >> 40), static_cast<std::uint8_t>(version >> 32),
        static_cast<std::uint8_t>(version >> 24), static_cast<std::uint8_t>(version >> 16),
        static_cast<std::uint8_t>(version >> 8),  static_cast<std::uint8_t>(version),
        static_cast<std::uint8_t>(block >> 24),   static_cast<std::uint8_t>(block >> 16),
        static_cast<std::uint8_t>(block >> 8),    static_cast<std::uint8_t>(block)};
    const auto d = crypto::sha256(counter);
    code.insert(code.end(), d.begin(), d.end());
  }
  code.resize(size);
  return code;
}

Result<void> init_headend_directory(const std::filesystem::path& dir, ByteView network_id, ByteView code,
                                    crypto::RandomSource& rng, protocol::TimePoint now) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return fail(Errc::io_error, fmt::format("cannot create {}: {}", dir.string(), ec.message()));
  if (std::filesystem::exists(dir / "headend.sqlite"))
    return fail(Errc::io_error, fmt::format("{} already holds a headend", dir.string()));
  // Its store and the key that seals the product keys: the operator's alone, like a TA directory.
  std::filesystem::permissions(dir, std::filesystem::perms::owner_all, ec);
  if (ec) return fail(Errc::io_error, fmt::format("cannot restrict {}: {}", dir.string(), ec.message()));
  DCAS_TRY(store::create_operator_key(dir));
  DCAS_TRY_ASSIGN(headend, HeadendStore::open_directory(dir));
  DCAS_TRY(headend->set_network_id(network_id));
  DCAS_TRY(headend->publish_image(1, code, now));
  DCAS_TRY(headend->add_product(1, "basic", rng));
  return {};
}

}  // namespace dcas::headend
