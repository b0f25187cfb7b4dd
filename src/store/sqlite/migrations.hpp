// store/sqlite/migrations.hpp — the SQLite schema, as numbered migrations.
#pragma once

#include <vector>

#include "store/migration.hpp"

namespace tocsin::store::sqlite {

// Versions 1..N in order; see migrations.cpp for the table plan.
const std::vector<Migration>& Migrations();

}  // namespace tocsin::store::sqlite
