// What every SQLite database of the project shares (the TA store, the headend's): statements as
// RAII handles, binding and reading columns, opening with the durability settings, exec, and
// versioned migrations.
#pragma once

#include <filesystem>
#include <memory>
#include <span>
#include <string>

#include "common/bytes.h"
#include "common/error.h"
#include "store/operator_store.h"

struct sqlite3;
struct sqlite3_stmt;

namespace dcas::store::sqlite {

struct StmtFree {
  void operator()(sqlite3_stmt* s) const;
};
using Stmt = std::unique_ptr<sqlite3_stmt, StmtFree>;

struct DbClose {
  void operator()(sqlite3* db) const;
};
using Db = std::unique_ptr<sqlite3, DbClose>;

Error db_error(sqlite3* db, std::string_view what);
Result<Stmt> prepare(sqlite3* db, const char* sql);
void bind_blob(sqlite3_stmt* s, int i, ByteView b);  // empty binds NULL
void bind_text(sqlite3_stmt* s, int i, std::string_view t);
Bytes column_blob(sqlite3_stmt* s, int i);
std::string column_text(sqlite3_stmt* s, int i);

// Opens with a 10 s busy timeout, owner-only permissions, WAL and synchronous=FULL (a commit is on
// disk when it returns). A file that is not an SQLite database is left as it was, mode included.
// Errors: store_error (not a database, cannot open), io_error (Create::never and no such file).
Result<Db> open_database(const std::filesystem::path& path, Create create = Create::if_missing);
// Errors: store_error.
Result<void> exec(sqlite3* db, const char* sql);
// Brings PRAGMA user_version up to steps.size(), each step once, in one transaction with its version
// bump. The caller holds whatever lock serialises the connection. Errors: store_error, store_schema.
Result<void> migrate(sqlite3* db, std::span<const char* const> steps);

}  // namespace dcas::store::sqlite
