#include "store/sqlite/connection.hpp"

#include <fmt/format.h>
#include <sqlite3.h>

namespace tocsin::store::sqlite {

Connection::~Connection() {
  statements_.clear();
  db_.reset();
}

SQLite::Statement& Connection::Prepared(const char* sql) {
  auto& slot = statements_[sql];
  if (!slot) {
    slot = std::make_unique<SQLite::Statement>(*db_, sql);
  } else {
    slot->tryReset();  // the previous use's error (if any) is not this use's concern
    slot->clearBindings();
  }
  return *slot;
}

void Query::BindOptional(int index, const std::optional<int64_t>& value) {
  if (value) {
    st_.bind(index, static_cast<int64_t>(*value));
  } else {
    st_.bind(index);
  }
}

void Query::BindOptional(int index, const std::optional<double>& value) {
  if (value) {
    st_.bind(index, *value);
  } else {
    st_.bind(index);
  }
}

WriteTransaction::WriteTransaction(Connection& connection) : connection_(connection) {
  connection_.Prepared("BEGIN IMMEDIATE").exec();
}

WriteTransaction::~WriteTransaction() {
  if (!done_) connection_.db().tryExec("ROLLBACK");
}

void WriteTransaction::Commit() {
  connection_.Prepared("COMMIT").exec();
  done_ = true;
}

void InsertAudit(Connection& connection, const AuditEntry& entry) {
  Query q(connection,
          "INSERT INTO audit_log (at, actor, action, target, detail_json) VALUES (?, ?, ?, ?, ?)");
  q->bind(1, static_cast<int64_t>(entry.at));
  q->bind(2, entry.actor);
  q->bind(3, entry.action);
  q->bind(4, entry.target);
  q->bind(5, entry.detail_json.empty() ? std::string("{}") : entry.detail_json);
  q.Exec();
}

Error FromException(const std::string& path, std::string_view what, const SQLite::Exception& e) {
  const int code = e.getErrorCode();
  const int extended = e.getExtendedErrorCode();
  if (code == SQLITE_CONSTRAINT &&
      (extended == SQLITE_CONSTRAINT_UNIQUE || extended == SQLITE_CONSTRAINT_PRIMARYKEY)) {
    // "UNIQUE constraint failed: api_tokens.hash" — names the column, never the value.
    std::string message = e.what();
    std::string field;
    if (const auto dot = message.rfind('.'); dot != std::string::npos) {
      field = message.substr(dot + 1);
    }
    return Error{"conflict", fmt::format("{}: already exists ({})", what, message),
                 "use a different value", field};
  }
  if (code == SQLITE_CONSTRAINT && extended == SQLITE_CONSTRAINT_FOREIGNKEY) {
    // Nearly every foreign key points at projects(name).
    return Error{"not_found",
                 fmt::format("{}: it refers to a project (or delivery) that does not "
                             "exist ({})",
                             what, e.what()),
                 "create the project first",
                 {}};
  }
  std::string hint;
  switch (code) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      hint =
          "another process kept the database locked; a SQLite file serves one tocsin serve "
          "(use PostgreSQL for several)";
      break;
    case SQLITE_FULL:
      hint = "the disk is full";
      break;
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_CANTOPEN:
    case SQLITE_AUTH:
      hint = fmt::format("check that {} and its directory are writable by this user", path);
      break;
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
      hint = fmt::format("{} is not a usable SQLite database; restore it from a backup", path);
      break;
    default:
      hint = "check the disk and the database file";
  }
  return Error{"store_unavailable", fmt::format("{}: {} ({})", what, e.what(), path), hint, {}};
}

Error FromStdException(const std::string& path, std::string_view what, const std::exception& e) {
  return Error{"store_unavailable", fmt::format("{}: {} ({})", what, e.what(), path), {}, {}};
}

}  // namespace tocsin::store::sqlite
