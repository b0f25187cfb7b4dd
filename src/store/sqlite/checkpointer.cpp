#include "store/sqlite/checkpointer.hpp"

#include <sqlite3.h>

namespace tocsin::store::sqlite {

Checkpointer::Checkpointer(std::unique_ptr<SQLite::Database> db, int soft_pages, int hard_pages)
    : db_(std::move(db)),
      soft_pages_(soft_pages),
      hard_pages_(hard_pages),
      thread_([this] { Run(); }) {}

Checkpointer::~Checkpointer() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_one();
  thread_.join();
}

void Checkpointer::Attach(SQLite::Database& writer) {
  sqlite3_wal_hook(writer.getHandle(), &Checkpointer::WalHook, this);
}

int Checkpointer::WalHook(void* self, sqlite3* db, const char* name, int pages) {
  auto* c = static_cast<Checkpointer*>(self);
  if (pages >= c->hard_pages_) {
    // The background checkpoints did not get the WAL restarted: a restart needs every frame
    // copied before a write begins, which a busy writer always beats. RESTART copies what is
    // left (most of it was copied in the background), waits (busy handler) for readers to
    // leave the WAL, and makes the next write start it over. SQLite does not wait for a
    // checkpoint running on another connection (it answers SQLITE_BUSY at once), hence the
    // mutex shared with our thread. Best effort, like SQLite's own autocheckpoint: a failure
    // here is not the commit's.
    std::lock_guard ours(c->checkpoint_mu_);  // SQLite would not wait for our own thread
    sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_RESTART, nullptr, nullptr);
  } else if (pages >= c->soft_pages_) {
    {
      std::lock_guard lock(c->mu_);
      c->requested_ = true;
    }
    c->cv_.notify_one();
  }
  return SQLITE_OK;
}

void Checkpointer::Run() {
  std::unique_lock lock(mu_);
  while (true) {
    cv_.wait(lock, [&] { return requested_ || stop_; });
    if (stop_) return;
    requested_ = false;
    lock.unlock();
    // PASSIVE copies what no reader still needs and never waits for a lock; the next write
    // then restarts the WAL from its beginning once everything was copied.
    int rc = SQLITE_OK;
    {
      std::lock_guard ours(checkpoint_mu_);
      rc = sqlite3_wal_checkpoint_v2(db_->getHandle(), nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr,
                                     nullptr);
    }
    if (rc == SQLITE_OK) checkpoints_.fetch_add(1);
    lock.lock();
  }
}

}  // namespace tocsin::store::sqlite
