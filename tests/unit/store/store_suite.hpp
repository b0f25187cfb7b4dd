// The backend-agnostic Store test suite (in the spirit of Mattermost's storetest).
//
// Every backend instantiates StoreSuite with a factory for a StoreBackend: something that can
// open the *same* database again (to test persistence and migrations) and poke its schema
// version (to test the "newer schema" refusal). The PostgreSQL backend will add one
// INSTANTIATE_TEST_SUITE_P line per suite (StoreSuite, PipelineSuite), skipping itself when no
// test server is configured.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>

#include "store/pipeline.hpp"
#include "store/store.hpp"

namespace tocsin::store::testing {

class StoreBackend {
 public:
  virtual ~StoreBackend() = default;
  // Opens (creating and migrating on first use) this backend's test database; each call opens
  // the same database again. The caller drops the previous Store first when it wants a "restart".
  virtual Result<std::unique_ptr<Store>> Open() = 0;
  // The newest schema version recorded in the database.
  virtual int64_t SchemaVersion() = 0;
  // The newest version this binary knows.
  virtual int64_t LatestKnownVersion() = 0;
  // Records `version` as applied, as a newer binary would have done.
  virtual void RecordSchemaVersion(int64_t version) = 0;
  // Rows in the migrations table.
  virtual int64_t MigrationRows() = 0;
};

struct BackendFactory {
  std::string name;  // used in test names
  std::function<std::unique_ptr<StoreBackend>()> make;
};

inline std::string BackendName(const ::testing::TestParamInfo<BackendFactory>& info) {
  return info.param.name;
}

class StoreSuite : public ::testing::TestWithParam<BackendFactory> {
 protected:
  void SetUp() override {
    backend_ = GetParam().make();
    ASSERT_NE(backend_, nullptr);
    auto opened = backend_->Open();
    ASSERT_TRUE(opened) << opened.error().message;
    store_ = std::move(*opened);
  }
  // Closes and reopens the database, as a restart would.
  void Reopen() {
    store_.reset();
    auto opened = backend_->Open();
    ASSERT_TRUE(opened) << opened.error().message;
    store_ = std::move(*opened);
  }

  std::unique_ptr<StoreBackend> backend_;
  std::unique_ptr<Store> store_;
};

// The pipeline half (store/pipeline.hpp): projects, findings, events and the outbox
// (pipeline_suite.cpp). Same backends, instantiated next to StoreSuite.
class PipelineSuite : public StoreSuite {
 protected:
  PipelineStore& pipeline() { return store_->pipeline(); }
  Outbox& outbox() { return store_->pipeline().outbox(); }
};

}  // namespace tocsin::store::testing
