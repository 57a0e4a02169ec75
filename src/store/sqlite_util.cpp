#include "store/sqlite_util.h"

#include <fmt/format.h>
#include <sqlite3.h>
#include <sys/stat.h>

namespace dcas::store::sqlite {

void StmtFree::operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
void DbClose::operator()(sqlite3* db) const { sqlite3_close(db); }

Error db_error(sqlite3* db, std::string_view what) {
  return Error{Errc::store_error, fmt::format("{}: {}", what, sqlite3_errmsg(db))};
}

Result<Stmt> prepare(sqlite3* db, const char* sql) {
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v2(db, sql, -1, &s, nullptr) != SQLITE_OK) return std::unexpected(db_error(db, "prepare"));
  return Stmt(s);
}

void bind_blob(sqlite3_stmt* s, int i, ByteView b) {
  if (b.empty())
    sqlite3_bind_null(s, i);
  else
    sqlite3_bind_blob(s, i, b.data(), static_cast<int>(b.size()), SQLITE_TRANSIENT);
}
void bind_text(sqlite3_stmt* s, int i, std::string_view t) {
  sqlite3_bind_text(s, i, t.data(), static_cast<int>(t.size()), SQLITE_TRANSIENT);
}
Bytes column_blob(sqlite3_stmt* s, int i) {
  const auto* p = static_cast<const std::uint8_t*>(sqlite3_column_blob(s, i));
  return p ? Bytes(p, p + sqlite3_column_bytes(s, i)) : Bytes{};
}
std::string column_text(sqlite3_stmt* s, int i) {
  const auto* p = sqlite3_column_text(s, i);
  return p ? std::string(reinterpret_cast<const char*>(p)) : std::string{};
}

Result<Db> open_database(const std::filesystem::path& path, Create create) {
  std::error_code ec;
  const bool existed = std::filesystem::exists(path, ec);
  if (!existed && create == Create::never) return fail(Errc::io_error, fmt::format("no database at {}", path.string()));
  if (std::filesystem::is_directory(path, ec))
    return fail(Errc::store_error, fmt::format("{} is a directory, not a database", path.string()));
  sqlite3* raw = nullptr;
  const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX | (create == Create::never ? 0 : SQLITE_OPEN_CREATE);
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  Db db(raw);
  if (rc != SQLITE_OK) return std::unexpected(db_error(raw, "open " + path.string()));
  // Wait for other connections' locks (other workers or processes) instead of failing at once;
  // set before anything else, since even switching the journal mode needs a lock.
  sqlite3_busy_timeout(raw, 10000);
  // WAL for concurrent readers; synchronous=FULL so that a commit is on disk when it returns
  // (NORMAL would let a power cut undo a transition whose result already left). The first read
  // of the file: one that is not a database stops here, untouched.
  DCAS_TRY(exec(raw, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"));
  // Every database here holds secrets (sealed) and state: owner-only. (SQLite gives its -wal and
  // -shm files the database file's permissions.)
  ::chmod(path.c_str(), 0600);
  return db;
}

Result<void> exec(sqlite3* db, const char* sql) {
  char* message = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &message) != SQLITE_OK) {
    Error e{Errc::store_error, message ? message : "exec failed"};
    sqlite3_free(message);
    return std::unexpected(e);
  }
  return {};
}

Result<void> migrate(sqlite3* db, std::span<const char* const> steps) {
  DCAS_TRY(exec(db, "BEGIN IMMEDIATE"));
  auto result = [&]() -> Result<void> {
    DCAS_TRY_ASSIGN(version_stmt, prepare(db, "PRAGMA user_version"));
    if (sqlite3_step(version_stmt.get()) != SQLITE_ROW) return std::unexpected(db_error(db, "schema version"));
    const int version = sqlite3_column_int(version_stmt.get(), 0);
    const int latest = static_cast<int>(steps.size());
    if (version > latest)
      return fail(Errc::store_schema,
                  fmt::format("database schema {} is newer than this program's {}", version, latest));
    for (int v = version; v < latest; ++v) {
      DCAS_TRY(exec(db, steps[v]));
      DCAS_TRY(exec(db, fmt::format("PRAGMA user_version = {}", v + 1).c_str()));
    }
    return {};
  }();
  if (!result) {
    (void)exec(db, "ROLLBACK");
    return result;
  }
  return exec(db, "COMMIT");
}

}  // namespace dcas::store::sqlite
