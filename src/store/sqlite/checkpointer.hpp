// store/sqlite/checkpointer.hpp — internal to the SQLite store: WAL checkpoints off the commit
// path.
//
// SQLite's default (wal_autocheckpoint=1000) checkpoints inside the commit that takes the WAL
// past 1000 pages: that commit copies the WAL into the database file and fsyncs twice, which on
// this project's reference disk cost a third of the single-event commit rate (ADR 0003). Here
// the write connection's WAL hook only wakes a thread that runs a PASSIVE checkpoint (it never
// blocks writers or readers) on a connection of its own. That copies the WAL into the database
// (and fsyncs) off the commit path, but cannot restart the WAL while writes keep coming (a
// restart needs every frame copied before a write begins), so when the WAL reaches `hard_pages`
// the writer runs a RESTART checkpoint inline: little is left to copy by then, and the WAL
// stays bounded.
// Threading: the hook runs on the writer's thread inside its commit; the checkpoint thread is
// started by the constructor and joined by the destructor. Destroy the Checkpointer after the
// write connection (the hook points at it).
#pragma once

#include <SQLiteCpp/SQLiteCpp.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>

struct sqlite3;

namespace tocsin::store::sqlite {

class Checkpointer {
 public:
  Checkpointer(std::unique_ptr<SQLite::Database> db, int soft_pages, int hard_pages);
  ~Checkpointer();
  Checkpointer(const Checkpointer&) = delete;
  Checkpointer& operator=(const Checkpointer&) = delete;

  // Installs the WAL hook on the write connection (replacing SQLite's autocheckpoint).
  void Attach(SQLite::Database& writer);
  // Checkpoints completed by the background thread so far.
  int64_t checkpoints() const { return checkpoints_.load(); }

 private:
  static int WalHook(void* self, sqlite3* db, const char* name, int pages);
  void Run();

  std::unique_ptr<SQLite::Database> db_;
  const int soft_pages_;
  const int hard_pages_;
  std::mutex checkpoint_mu_;  // one checkpoint at a time between the thread and the hook
  std::mutex mu_;             // guards requested_ and stop_
  std::condition_variable cv_;
  bool requested_ = false;
  bool stop_ = false;
  std::atomic<int64_t> checkpoints_{0};
  std::thread thread_;  // last: starts once everything above is initialised
};

}  // namespace tocsin::store::sqlite
