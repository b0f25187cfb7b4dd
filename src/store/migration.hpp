// store/migration.hpp — numbered schema migrations, shared shape for every backend.
//
// Each backend keeps its own list (SQL dialects differ) with versions 1, 2, 3, ... in order. A
// migration is never edited once released: a change is a new migration. The runner applies the
// missing ones in order, each in its own transaction together with its schema_migrations row, and
// refuses a database whose schema is newer than the list (an older binary must not write to it).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tocsin::store {

struct Migration {
  int64_t version = 0;
  std::string name;  // a short description; recorded, and compared on open
  std::string sql;   // one or more statements
};

// The newest version in `migrations` (0 for an empty list).
inline int64_t LatestVersion(const std::vector<Migration>& migrations) {
  return migrations.empty() ? 0 : migrations.back().version;
}

}  // namespace tocsin::store
