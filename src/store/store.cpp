#include "store/store.hpp"

#include <fmt/format.h>

#include <filesystem>

#include "core/strings.hpp"
#include "store/sqlite/sqlite_store.hpp"

namespace tocsin::store {

Result<std::unique_ptr<Store>> OpenStore(const std::string& database, const std::string& data_dir) {
  if (StartsWith(database, "postgres://") || StartsWith(database, "postgresql://")) {
    return Fail("unsupported", "PostgreSQL support comes in a later version of tocsin",
                "leave --database empty (SQLite in the data dir) or use sqlite:PATH for now");
  }
  std::string path;
  if (database.empty()) {
    const std::filesystem::path dir = data_dir.empty() ? "." : data_dir;
    path = (dir / "tocsin.db").string();
  } else if (StartsWith(database, "sqlite:")) {
    path = database.substr(7);
    if (path.empty()) {
      return Fail("invalid_config", "database: sqlite: needs a path",
                  "use sqlite:/path/to/tocsin.db", "database");
    }
  } else {
    // The URL is user input; it may carry a password, so it is not echoed.
    return Fail("invalid_config", "database: not a database URL this tocsin understands",
                "use \"\" (SQLite in the data dir), sqlite:PATH or postgres://...", "database");
  }
  auto opened = sqlite::SqliteStore::Open(path);
  if (!opened) return Unexpected(opened.error());
  return std::unique_ptr<Store>(std::move(*opened));
}

}  // namespace tocsin::store
