// store/sqlite/connection.hpp — internal to the SQLite store: one connection with its cache of
// prepared statements, the RAII helpers that use them, and the one place SQLite exceptions turn
// into store errors.
//
// Statements are prepared once per connection and reused: Query resets a cached statement and
// clears its bindings on the way in, and resets it on the way out so a half-read SELECT never
// keeps a read snapshot (which would hold back WAL checkpoints) or a stale error into the next
// use. Threading: a Connection is not thread-safe; SqliteStore guards each with a mutex.
#pragma once

#include <SQLiteCpp/SQLiteCpp.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>

#include "core/result.hpp"
#include "store/store.hpp"

namespace tocsin::store::sqlite {

class Connection {
 public:
  explicit Connection(std::unique_ptr<SQLite::Database> db) : db_(std::move(db)) {}
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  SQLite::Database& db() { return *db_; }
  // The cached statement for `sql`, reset and with its bindings cleared. `sql` must be a string
  // with static storage (a constant): its address is the cache key.
  SQLite::Statement& Prepared(const char* sql);

 private:
  std::unique_ptr<SQLite::Database> db_;
  // Declared after db_ so they are finalised first (a connection with live statements does not
  // close); ~Connection clears them explicitly anyway.
  std::unordered_map<const char*, std::unique_ptr<SQLite::Statement>> statements_;
};

// One use of a cached statement (see the file comment).
class Query {
 public:
  Query(Connection& connection, const char* sql) : st_(connection.Prepared(sql)) {}
  ~Query() { st_.tryReset(); }
  Query(const Query&) = delete;
  Query& operator=(const Query&) = delete;

  SQLite::Statement& operator*() { return st_; }
  SQLite::Statement* operator->() { return &st_; }

  // Binds NULL for nullopt.
  void BindOptional(int index, const std::optional<int64_t>& value);
  void BindOptional(int index, const std::optional<double>& value);
  // Runs a statement that returns no rows; the number of rows it changed.
  int Exec() { return st_.exec(); }

 private:
  SQLite::Statement& st_;
};

// BEGIN IMMEDIATE (take the write lock up front, waiting up to busy_timeout, instead of failing
// on a lock upgrade half-way); ROLLBACK unless Commit() succeeded.
class WriteTransaction {
 public:
  explicit WriteTransaction(Connection& connection);
  ~WriteTransaction();
  WriteTransaction(const WriteTransaction&) = delete;
  WriteTransaction& operator=(const WriteTransaction&) = delete;
  void Commit();

 private:
  Connection& connection_;
  bool done_ = false;
};

// Appends to audit_log on `connection` (inside the caller's transaction).
void InsertAudit(Connection& connection, const AuditEntry& entry);

// Library exceptions end here: every SQLite failure becomes a typed store error. `what` says
// what was being done ("creating the project"); `path` names the database file.
Error FromException(const std::string& path, std::string_view what, const SQLite::Exception& e);
Error FromStdException(const std::string& path, std::string_view what, const std::exception& e);

// Runs `fn` (which returns Result<T>) with exceptions turned into errors.
template <typename Fn>
auto Guarded(const std::string& path, std::string_view what, Fn&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const SQLite::Exception& e) {
    return Unexpected(FromException(path, what, e));
  } catch (const std::exception& e) {
    return Unexpected(FromStdException(path, what, e));
  }
}

// The write connection: one writer at a time (SQLite has one write lock per file anyway).
struct Writer {
  explicit Writer(std::unique_ptr<Connection> c) : connection(std::move(c)) {}
  std::mutex mu;
  // The thread inside a write, so a nested write fails instead of waiting for itself forever.
  std::atomic<std::thread::id> thread{};
  std::unique_ptr<Connection> connection;
};

// The read connection (query_only): reads never wait behind a write transaction (WAL).
struct Reader {
  explicit Reader(std::unique_ptr<Connection> c) : connection(std::move(c)) {}
  std::mutex mu;
  std::unique_ptr<Connection> connection;
};

// Runs fn(Connection&) -> Result<T> in one write transaction: committed when it returns a value,
// rolled back when it returns an error or throws.
template <typename Fn>
auto Write(Writer& writer, const std::string& path, std::string_view what, Fn&& fn)
    -> decltype(fn(std::declval<Connection&>())) {
  using R = decltype(fn(std::declval<Connection&>()));
  if (writer.thread.load() == std::this_thread::get_id()) {
    return Unexpected(Error{
        "internal",
        std::string(what) + ": a store write was called from inside Transact (use the IngestTx)",
        {},
        {}});
  }
  std::lock_guard lock(writer.mu);
  writer.thread.store(std::this_thread::get_id());
  struct ClearThread {
    Writer& w;
    ~ClearThread() { w.thread.store(std::thread::id{}); }
  } clear{writer};
  return Guarded(path, what, [&]() -> R {
    WriteTransaction tx(*writer.connection);
    R result = fn(*writer.connection);
    if (result) tx.Commit();
    return result;
  });
}

// Runs fn(Connection&) -> Result<T> on the read connection (each statement its own snapshot).
template <typename Fn>
auto Read(Reader& reader, const std::string& path, std::string_view what, Fn&& fn)
    -> decltype(fn(std::declval<Connection&>())) {
  std::lock_guard lock(reader.mu);
  return Guarded(path, what, [&] { return fn(*reader.connection); });
}

}  // namespace tocsin::store::sqlite
