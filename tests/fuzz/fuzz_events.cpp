// libFuzzer target: any JSON body into the event reader; valid events must survive a round trip
// through the stored form.
#include <cstddef>
#include <cstdint>

#include <nlohmann/json.hpp>

#include "ingest/event_reader.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto j = nlohmann::json::parse(data, data + size, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return 0;
  auto events = tocsin::ingest::ReadEvents(j, 100);
  if (!events) {
    if (events.error().code.empty() || events.error().message.empty()) __builtin_trap();
    return 0;
  }
  for (const auto& e : *events) {
    nlohmann::json stored = tocsin::ingest::EventToJson(e);
    (void)stored.dump(-1, ' ', false, nlohmann::json::error_handler_t::strict);
  }
  return 0;
}
